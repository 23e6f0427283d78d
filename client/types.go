package client

import (
	"encoding/json"
	"time"
)

// User is the summary of a user, as in every list.
type User struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	IsActive  bool   `json:"isActive"`
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// UserProfile is a user's full profile.
type UserProfile struct {
	User
	IsAdmin      bool       `json:"isAdmin"`
	IsService    bool       `json:"isService"`
	Bio          string     `json:"bio"`
	AvatarURL    string     `json:"avatarUrl"`
	Timezone     string     `json:"timezone"`
	Locale       string     `json:"locale"`
	DateJoined   time.Time  `json:"dateJoined"`
	LastLogin    *time.Time `json:"lastLogin"`
	LastActiveAt *time.Time `json:"lastActiveAt"`
	Groups       []GroupRef `json:"groups"`

	// ETag is the validator the server sent with the profile; pass it as
	// ifMatch to UpdateUser or PatchUser to change only this version.
	ETag string `json:"-"`
}

// UserCreate is the body of CreateUser: Username and Email are required;
// fields left zero take the server's defaults (active, not admin, "UTC",
// "en"). Without Password the user cannot log in.
type UserCreate struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	IsActive  *bool  `json:"isActive,omitempty"`
	IsAdmin   bool   `json:"isAdmin,omitempty"`
	// IsService makes a service account (no password; tokens from an admin).
	IsService bool   `json:"isService,omitempty"`
	Bio       string `json:"bio,omitempty"`
	AvatarURL string `json:"avatarUrl,omitempty"`
	Timezone  string `json:"timezone,omitempty"`
	Locale    string `json:"locale,omitempty"`
	Password  string `json:"password,omitempty"`
}

// UserReplace is the body of UpdateUser (PUT): the first five fields are
// always sent; the others, when nil, stay as they are.
type UserReplace struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	IsActive  bool   `json:"isActive"`

	IsAdmin   *bool   `json:"isAdmin,omitempty"`
	Bio       *string `json:"bio,omitempty"`
	AvatarURL *string `json:"avatarUrl,omitempty"`
	Timezone  *string `json:"timezone,omitempty"`
	Locale    *string `json:"locale,omitempty"`
	// Password sets a new password; on oneself CurrentPassword is needed too.
	Password        *string `json:"password,omitempty"`
	CurrentPassword *string `json:"currentPassword,omitempty"`
}

// UserUpdate is the body of PatchUser: only non-nil fields are sent and
// change (Ptr("x") makes a *string).
type UserUpdate struct {
	Username        *string `json:"username,omitempty"`
	Email           *string `json:"email,omitempty"`
	FirstName       *string `json:"firstName,omitempty"`
	LastName        *string `json:"lastName,omitempty"`
	IsActive        *bool   `json:"isActive,omitempty"`
	IsAdmin         *bool   `json:"isAdmin,omitempty"`
	Bio             *string `json:"bio,omitempty"`
	AvatarURL       *string `json:"avatarUrl,omitempty"`
	Timezone        *string `json:"timezone,omitempty"`
	Locale          *string `json:"locale,omitempty"`
	Password        *string `json:"password,omitempty"`
	CurrentPassword *string `json:"currentPassword,omitempty"`
}

// Token is the answer to Login.
type Token struct {
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expiresAt"`
	User      UserProfile `json:"user"`
}

// Role is a workspace role.
type Role string

// Workspace roles, weakest first.
const (
	RoleViewer Role = "viewer"
	RoleMember Role = "member"
	RoleAdmin  Role = "admin"
)

// Workspace is a workspace.
type Workspace struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"createdAt"`
}

// WorkspaceCreate is the body of CreateWorkspace; an empty Slug is derived
// from the name.
type WorkspaceCreate struct {
	Name string `json:"name"`
	Slug string `json:"slug,omitempty"`
}

// WorkspaceUpdate is the body of PatchWorkspace: only non-nil fields change.
type WorkspaceUpdate struct {
	Name *string `json:"name,omitempty"`
	Slug *string `json:"slug,omitempty"`
}

// Subject is who a grant is for: a user or a group.
type Subject struct {
	Type string `json:"type"` // "user" or "group"
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Grant is a role in a workspace given to a user or a group.
type Grant struct {
	Subject Subject `json:"subject"`
	Role    Role    `json:"role"`
}

// Member is an effective member of a workspace: the user, the strongest
// role it has and where that access comes from ("direct", group names).
type Member struct {
	User
	Role Role     `json:"role"`
	Via  []string `json:"via"`
}

// Group is a group of users.
type Group struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"memberCount"`
}

// ActiveWorkspace is a workspace a user has access to and acted in lately.
type ActiveWorkspace struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Slug          string    `json:"slug"`
	Role          Role      `json:"role"`
	Via           []string  `json:"via"`
	LastActiveAt  time.Time `json:"lastActiveAt"`
	ActivityCount int       `json:"activityCount"`
}

// Actor is who did an activity; Username is nil once the user is deleted.
type Actor struct {
	ID       int64   `json:"id"`
	Username *string `json:"username"`
}

// ActivityObject is what an activity is about.
type ActivityObject struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// WorkspaceRef names the workspace of an activity.
type WorkspaceRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Activity is one entry of a feed or stream.
type Activity struct {
	ID        int64           `json:"id"`
	Actor     Actor           `json:"actor"`
	Verb      string          `json:"verb"`
	Object    *ActivityObject `json:"object"`
	Workspace *WorkspaceRef   `json:"workspace"`
	Data      json.RawMessage `json:"data"`
	Published time.Time       `json:"published"`
}

// ActivityCreate is the body of CreateActivity. Workspace 0 means none;
// Data is JSON-encoded (an object of at most 8 KiB); Actor, admins only,
// posts on behalf of another user.
type ActivityCreate struct {
	Verb      string          `json:"verb"`
	Object    *ActivityObject `json:"object,omitempty"`
	Workspace int64           `json:"workspace,omitempty"`
	Data      any             `json:"data,omitempty"`
	Actor     int64           `json:"actor,omitempty"`
}

// Ptr returns a pointer to v, for the optional fields of UserUpdate and
// WorkspaceUpdate: client.UserUpdate{Bio: client.Ptr("Design lead")}.
func Ptr[T any](v T) *T { return &v }
