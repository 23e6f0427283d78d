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

// NeedsCurrentPassword reports whether setting a password on target requires
// the viewer to confirm its current one: always when it is its own.
func NeedsCurrentPassword(viewer, target *User) bool {
	return viewer.ID == target.ID
}
