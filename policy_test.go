package roster

import "testing"

func ptr[T any](v T) *T { return &v }

func TestRequireAdmin(t *testing.T) {
	for _, c := range []struct {
		name   string
		viewer *User
		want   string
	}{
		{"nobody", nil, EFORBIDDEN},
		{"user", &User{ID: 2}, EFORBIDDEN},
		{"admin", &User{ID: 1, IsAdmin: true}, ""},
	} {
		if got := ErrorCode(RequireAdmin(c.viewer)); got != c.want {
			t.Errorf("%s: RequireAdmin = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCanEditUser(t *testing.T) {
	admin, user := &User{ID: 1, IsAdmin: true}, &User{ID: 2}
	for _, c := range []struct {
		viewer *User
		target int64
		want   bool
	}{
		{admin, 1, true}, {admin, 2, true}, {admin, 99, true},
		{user, 2, true}, {user, 1, false}, {user, 3, false},
	} {
		if got := CanEditUser(c.viewer, c.target); got != c.want {
			t.Errorf("CanEditUser(%d admin=%v, %d) = %v, want %v", c.viewer.ID, c.viewer.IsAdmin, c.target, got, c.want)
		}
	}
}

func TestCanUpdateUser(t *testing.T) {
	admin := &User{ID: 1, IsAdmin: true, IsActive: true}
	self := &User{ID: 2, IsActive: true}
	other := &User{ID: 3, IsActive: true}
	for _, c := range []struct {
		name           string
		viewer, target *User
		upd            UserUpdate
		want, message  string
	}{
		{"admin edits anyone", admin, other, UserUpdate{IsActive: ptr(false), IsAdmin: ptr(true)}, "", ""},
		{"admin edits itself", admin, admin, UserUpdate{IsAdmin: ptr(false)}, "", ""},
		{"user edits itself", self, self, UserUpdate{Bio: ptr("hi"), PasswordHash: ptr("h")}, "", ""},
		{"user sends its current isActive", self, self, UserUpdate{IsActive: ptr(true), IsAdmin: ptr(false)}, "", ""},
		{"user edits another", self, other, UserUpdate{Bio: ptr("hi")}, EFORBIDDEN, "You do not have permission to perform this action."},
		{"user edits an admin", self, admin, UserUpdate{}, EFORBIDDEN, "You do not have permission to perform this action."},
		{"user deactivates itself", self, self, UserUpdate{IsActive: ptr(false)}, EFORBIDDEN, "Only an admin may change isActive."},
		{"user makes itself admin", self, self, UserUpdate{IsAdmin: ptr(true)}, EFORBIDDEN, "Only an admin may change isAdmin."},
	} {
		err := CanUpdateUser(c.viewer, c.target, c.upd)
		if got := ErrorCode(err); got != c.want {
			t.Errorf("%s: CanUpdateUser = %q (%v), want %q", c.name, got, err, c.want)
		} else if err != nil && ErrorMessage(err) != c.message {
			t.Errorf("%s: message %q, want %q", c.name, ErrorMessage(err), c.message)
		}
	}
}

func TestNeedsCurrentPassword(t *testing.T) {
	admin := &User{ID: 1, IsAdmin: true, Username: "root", Email: "root@example.com"}
	user := &User{ID: 2, Username: "jdoe", Email: "jdoe@example.com"}
	if !NeedsCurrentPassword(user, user, UserUpdate{}, true) || !NeedsCurrentPassword(admin, admin, UserUpdate{}, true) {
		t.Error("setting one's own password must need the current one, admins included")
	}
	if NeedsCurrentPassword(admin, user, UserUpdate{}, true) {
		t.Error("an admin setting another user's password must not need that user's current one")
	}
	if !NeedsCurrentPassword(user, user, UserUpdate{Username: ptr("jane")}, false) || !NeedsCurrentPassword(user, user, UserUpdate{Email: ptr("jane@example.com")}, false) {
		t.Error("changing one's own username or email must need the current password")
	}
	if NeedsCurrentPassword(user, user, UserUpdate{Username: ptr("jdoe"), Email: ptr("jdoe@example.com"), FirstName: ptr("Jane")}, false) {
		t.Error("sending the current username and email back, or changing other fields, must not need it")
	}
	if NeedsCurrentPassword(admin, user, UserUpdate{Username: ptr("jane")}, false) {
		t.Error("an admin renaming another user must not need that user's password")
	}
}

func TestWorkspacePermissions(t *testing.T) {
	admin, user := &User{ID: 1, IsAdmin: true}, &User{ID: 2}
	for _, c := range []struct {
		viewer       *User
		role         Role
		read, manage bool
	}{
		{admin, NoRole, true, true},
		{admin, RoleViewer, true, true},
		{user, NoRole, false, false},
		{user, RoleViewer, true, false},
		{user, RoleMember, true, false},
		{user, RoleAdmin, true, true},
	} {
		if got := CanReadWorkspace(c.viewer, c.role); got != c.read {
			t.Errorf("CanReadWorkspace(admin=%v, %v) = %v, want %v", c.viewer.IsAdmin, c.role, got, c.read)
		}
		if got := CanManageWorkspace(c.viewer, c.role); got != c.manage {
			t.Errorf("CanManageWorkspace(admin=%v, %v) = %v, want %v", c.viewer.IsAdmin, c.role, got, c.manage)
		}
	}
}

func TestCanPostActivity(t *testing.T) {
	admin, user := &User{ID: 1, IsAdmin: true}, &User{ID: 2}
	const other = 3
	// in is a post into an existing workspace where the actor has role.
	in := func(actor int64, role Role) ActivityPost {
		return ActivityPost{ActorID: actor, ActorExists: true, HasWorkspace: true, WorkspaceExists: true, ActorRole: role}
	}
	for _, c := range []struct {
		name        string
		viewer      *User
		post        ActivityPost
		code, field string
	}{
		{"user as itself, no workspace", user, ActivityPost{ActorID: 2, ActorExists: true}, "", ""},
		{"user as another", user, ActivityPost{ActorID: other, ActorExists: true}, EFORBIDDEN, ""},
		{"user as a missing user", user, ActivityPost{ActorID: other}, EFORBIDDEN, ""},
		{"admin as another", admin, ActivityPost{ActorID: other, ActorExists: true}, "", ""},
		{"admin as a missing user", admin, ActivityPost{ActorID: other}, EINVALID, "actor"},
		{"user in its workspace", user, in(2, RoleViewer), "", ""},
		{"user in a workspace without access", user, in(2, NoRole), EFORBIDDEN, ""},
		{"user in a missing workspace", user, ActivityPost{ActorID: 2, ActorExists: true, HasWorkspace: true}, EFORBIDDEN, ""},
		{"admin as itself without a role", admin, in(1, NoRole), "", ""},
		{"admin in a missing workspace", admin, ActivityPost{ActorID: 1, ActorExists: true, HasWorkspace: true}, EINVALID, "workspace"},
		{"admin for an actor with access", admin, in(other, RoleMember), "", ""},
		{"admin for an actor without access", admin, in(other, NoRole), EINVALID, "workspace"},
	} {
		err := CanPostActivity(c.viewer, c.post)
		if got := ErrorCode(err); got != c.code {
			t.Errorf("%s: CanPostActivity = %q (%v), want %q", c.name, got, err, c.code)
			continue
		}
		if c.field != "" {
			if e, ok := err.(*Error); !ok || len(e.Fields[c.field]) != 1 {
				t.Errorf("%s: want one message on field %q, got %v", c.name, c.field, err)
			}
		}
		if CanRecordFor(c.viewer, c.post.ActorID) != (c.viewer.IsAdmin || c.post.ActorID == c.viewer.ID) {
			t.Errorf("%s: CanRecordFor disagrees with the rule", c.name)
		}
	}
}

func TestTokenAndActivityLimitRules(t *testing.T) {
	admin, user, other := &User{ID: 1, IsAdmin: true}, &User{ID: 2}, &User{ID: 3}
	if !CanRevokeToken(user, user.ID) || !CanRevokeToken(admin, user.ID) {
		t.Error("a token's owner and admins must be able to revoke it")
	}
	if CanRevokeToken(other, user.ID) {
		t.Error("another user must not revoke someone else's token")
	}
	if !ActivityPostsLimited(user) || ActivityPostsLimited(admin) {
		t.Error("activity posts are limited for users, not for admins")
	}
}

func TestCanProvision(t *testing.T) {
	for _, c := range []struct {
		target User
		ok     bool
	}{
		{User{ID: 2}, true},
		{User{ID: 2, IsAdmin: true}, false},
		{User{ID: 2, IsService: true}, false},
	} {
		if err := CanProvision(&c.target); (err == nil) != c.ok || err != nil && ErrorCode(err) != EFORBIDDEN {
			t.Errorf("CanProvision(%+v) = %v, want ok=%v", c.target, err, c.ok)
		}
	}
}
