package roster

// Permission rules for users, decided here once for every store and route.

var errForbidden = &Error{Code: EFORBIDDEN, Message: "You do not have permission to perform this action."}

// ErrForbidden returns the standard 403 error.
func ErrForbidden() error { return errForbidden }

// RequireAdmin allows only admins.
func RequireAdmin(viewer *User) error {
	if viewer == nil || !viewer.IsAdmin {
		return errForbidden
	}
	return nil
}

// CanUpdateUser decides whether viewer may apply upd to target: a user may
// edit itself and an admin anyone; only admins change isActive or isAdmin
// (sending the current value is allowed); a password may be set on oneself
// or, by an admin, on anyone. The caller checks currentPassword separately
// (see NeedsCurrentPassword).
func CanUpdateUser(viewer, target *User, upd UserUpdate) error {
	if viewer.IsAdmin {
		return nil
	}
	if viewer.ID != target.ID {
		return errForbidden
	}
	if upd.IsActive != nil && *upd.IsActive != target.IsActive {
		return &Error{Code: EFORBIDDEN, Message: "Only an admin may change isActive."}
	}
	if upd.IsAdmin != nil && *upd.IsAdmin != target.IsAdmin {
		return &Error{Code: EFORBIDDEN, Message: "Only an admin may change isAdmin."}
	}
	return nil
}

// NeedsCurrentPassword reports whether viewer must confirm target's current
// password for upd (setsPassword: upd also sets a new password): a user
// changing its own password, username or email, the changes a stolen token
// would need to take the account over. An admin changing someone else never
// needs it.
func NeedsCurrentPassword(viewer, target *User, upd UserUpdate, setsPassword bool) bool {
	if viewer.ID != target.ID {
		return false
	}
	return setsPassword || (upd.Username != nil && *upd.Username != target.Username) ||
		(upd.Email != nil && *upd.Email != target.Email)
}

// CanReadWorkspace allows admins and anyone with a role in the workspace.
func CanReadWorkspace(viewer *User, role Role) bool { return viewer.IsAdmin || role > NoRole }

// CanManageWorkspace allows admins and the workspace's admins to change it
// and its grants.
func CanManageWorkspace(viewer *User, role Role) bool { return viewer.IsAdmin || role >= RoleAdmin }

// CanChangeSlug allows only admins to change a workspace's slug (sending
// the current one is fine): slugs are unique across all workspaces, so a
// workspace admin's conflicting rename would reveal the slugs of workspaces
// it cannot read.
func CanChangeSlug(viewer *User, ws *Workspace, slug *string) error {
	if viewer.IsAdmin || slug == nil || *slug == ws.Slug {
		return nil
	}
	return &Error{Code: EFORBIDDEN, Message: "Only an admin may change a workspace's slug."}
}

// CanPostActivity decides whether viewer may post as actor into a workspace
// (workspaceRole is the actor's role there, ignored when workspace is unset):
// only admins act for others; an admin's actor still needs access (EINVALID),
// while a user without access is forbidden.
func CanPostActivity(viewer *User, actorID int64, hasWorkspace bool, actorRole Role) error {
	if actorID != viewer.ID && !viewer.IsAdmin {
		return &Error{Code: EFORBIDDEN, Message: "Only an admin may record activities for another user."}
	}
	if !hasWorkspace || actorRole > NoRole || (actorID == viewer.ID && viewer.IsAdmin) {
		return nil
	}
	if actorID != viewer.ID {
		return FieldError(EINVALID, "workspace", "The actor has no access to this workspace.")
	}
	return &Error{Code: EFORBIDDEN, Message: "You do not have access to this workspace."}
}
