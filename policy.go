package roster

// Permission rules, decided here once for every store and route: handlers
// gather the facts (the viewer, the target, roles, what exists) and ask one
// of these functions; none of them does I/O.

var errForbidden = &Error{Code: EFORBIDDEN, Message: "You do not have permission to perform this action."}

// ErrForbidden returns the standard 403 error.
func ErrForbidden() error { return errForbidden }

// RequireAdmin allows only admins: creating and deleting users, creating
// workspaces, and every change to groups and their members.
func RequireAdmin(viewer *User) error {
	if viewer == nil || !viewer.IsAdmin {
		return errForbidden
	}
	return nil
}

// CanEditUser reports whether viewer may change user targetID at all: a
// user may edit itself and an admin anyone. The HTTP layer asks it before
// reading the body, so that a non-admin learns only whether the user exists
// (404) or not its own (403); CanUpdateUser decides the fields.
func CanEditUser(viewer *User, targetID int64) bool {
	return viewer.IsAdmin || viewer.ID == targetID
}

// CanUpdateUser decides whether viewer may apply upd to target: only users
// CanEditUser allows; only admins change isActive or isAdmin (sending the
// current value is allowed); a password may be set on oneself or, by an
// admin, on anyone. The caller checks currentPassword separately (see
// NeedsCurrentPassword).
func CanUpdateUser(viewer, target *User, upd UserUpdate) error {
	if !CanEditUser(viewer, target.ID) {
		return errForbidden
	}
	if viewer.IsAdmin {
		return nil
	}
	if upd.IsActive != nil && *upd.IsActive != target.IsActive {
		return &Error{Code: EFORBIDDEN, Message: "Only an admin may change isActive."}
	}
	if upd.IsAdmin != nil && *upd.IsAdmin != target.IsAdmin {
		return &Error{Code: EFORBIDDEN, Message: "Only an admin may change isAdmin."}
	}
	return nil
}

// CanProvision decides whether a SCIM client (an admin's token with the
// scim scope) may change or delete target: people only. Admins and service
// accounts are Roster's own and changed through its API; otherwise a scim
// token could rename an admin's email to one its holder controls and take
// the account over through single sign-on's link by email.
func CanProvision(target *User) error {
	if target.IsAdmin || target.IsService {
		return &Error{Code: EFORBIDDEN, Message: "SCIM does not change admins or service accounts; use the Roster API."}
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

// CanRevokeToken allows a token's owner and admins to revoke it. To anyone
// else the token is reported as absent, so that ids cannot be probed.
func CanRevokeToken(viewer *User, ownerID int64) bool { return viewer.IsAdmin || viewer.ID == ownerID }

// ActivityPostsLimited reports whether viewer's activity posts count against
// the per-user rate limit: admins are exempt.
func ActivityPostsLimited(viewer *User) bool { return !viewer.IsAdmin }

// CanReadWorkspace allows admins and anyone with a role in the workspace.
// A workspace the viewer cannot read is reported as absent, not forbidden.
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

// ActivityPost is what CanPostActivity needs to know about an activity
// being posted: its actor, and its workspace when it names one.
type ActivityPost struct {
	ActorID     int64
	ActorExists bool
	// HasWorkspace is set when the activity names a workspace;
	// WorkspaceExists and ActorRole (the actor's role there) describe it.
	HasWorkspace    bool
	WorkspaceExists bool
	ActorRole       Role
}

// CanRecordFor reports whether viewer may post activities with actorID as
// their actor: its own, or anyone's for an admin. The HTTP layer asks it
// before looking the actor up; CanPostActivity decides the rest.
func CanRecordFor(viewer *User, actorID int64) bool {
	return actorID == viewer.ID || viewer.IsAdmin
}

// CanPostActivity decides whether viewer may post the activity p: only
// admins act for others (403), and only for users who exist (EINVALID). In a
// workspace that does not exist, an admin gets EINVALID and anyone else the
// 403 of a workspace without access, which does not tell it exists. An
// admin's actor still needs access there (EINVALID), an admin posting as
// itself does not, and a user posting as itself without access is forbidden.
func CanPostActivity(viewer *User, p ActivityPost) error {
	if !CanRecordFor(viewer, p.ActorID) {
		return errForbidden
	}
	if !p.ActorExists {
		return FieldError(EINVALID, "actor", "Unknown user.")
	}
	if !p.HasWorkspace {
		return nil
	}
	self := p.ActorID == viewer.ID
	switch {
	case !p.WorkspaceExists && viewer.IsAdmin:
		return FieldError(EINVALID, "workspace", "Unknown workspace.")
	case !p.WorkspaceExists:
		return errNoWorkspaceAccess
	case p.ActorRole > NoRole || (self && viewer.IsAdmin):
		return nil
	case !self:
		return FieldError(EINVALID, "workspace", "The actor has no access to this workspace.")
	}
	return errNoWorkspaceAccess
}

var errNoWorkspaceAccess = &Error{Code: EFORBIDDEN, Message: "You do not have access to this workspace."}
