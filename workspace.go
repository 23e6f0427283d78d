package roster

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Workspace is a place where users act; access comes from grants.
type Workspace struct {
	ID        int64
	Name      string
	Slug      string
	CreatedAt time.Time
}

// Role is a workspace role; a stronger role includes the weaker ones.
type Role int

// Roles, weakest first. NoRole means no access.
const (
	NoRole Role = iota
	RoleViewer
	RoleMember
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleMember:
		return "member"
	case RoleAdmin:
		return "admin"
	}
	return ""
}

// ParseRole parses "viewer", "member" or "admin".
func ParseRole(s string) (Role, bool) {
	switch s {
	case "viewer":
		return RoleViewer, true
	case "member":
		return RoleMember, true
	case "admin":
		return RoleAdmin, true
	}
	return NoRole, false
}

// Subject is who a grant is for: a user or a group.
type Subject struct {
	Type string // "user" or "group"
	ID   int64
	Name string // username or group name
}

// Grant gives a subject a role in a workspace.
type Grant struct {
	Subject Subject
	Role    Role
}

// Member is an effective member of a workspace: the strongest role of the
// direct grant and of every grant to one of the user's groups.
type Member struct {
	User *User
	Role Role
	Via  []string // "direct" and/or group names
}

// ActiveWorkspace is a workspace a user acted in recently, with the user's
// access to it.
type ActiveWorkspace struct {
	Workspace
	Role          Role
	Via           []string
	LastActiveAt  time.Time
	ActivityCount int
}

// WorkspaceUpdate holds the fields of a workspace change; nil is unchanged.
type WorkspaceUpdate struct {
	Name *string
	Slug *string
}

// WorkspaceService stores workspaces and grants. Workspace lists are limited
// to what the viewer can access (all for admins). Implementations return
// ENOTFOUND for absent workspaces, users, groups and grants, and ECONFLICT for
// a taken slug.
type WorkspaceService interface {
	FindWorkspaceByID(ctx context.Context, id int64) (*Workspace, error)
	FindWorkspaces(ctx context.Context, viewer *User, p Page) ([]*Workspace, int, error)
	// SearchWorkspaces is FindWorkspaces narrowed to the workspaces whose
	// name or slug contains q (ignoring ASCII case).
	SearchWorkspaces(ctx context.Context, viewer *User, q string, p Page) ([]*Workspace, int, error)
	// CreateWorkspace stores w; an empty Slug is derived from Name and made
	// unique. It records workspace.created.
	CreateWorkspace(ctx context.Context, actor int64, w *Workspace) error
	UpdateWorkspace(ctx context.Context, actor, id int64, upd WorkspaceUpdate) (*Workspace, error)
	DeleteWorkspace(ctx context.Context, actor, id int64) error
	// WorkspaceRole returns the effective role of user in workspace (NoRole
	// when it has no access).
	WorkspaceRole(ctx context.Context, userID, workspaceID int64) (Role, error)
	FindGrants(ctx context.Context, workspaceID int64, p Page) ([]*Grant, int, error)
	// SetGrant creates or changes a grant and records
	// workspace.permission_granted.
	SetGrant(ctx context.Context, actor, workspaceID int64, g *Grant) error
	// DeleteGrant removes a grant and records workspace.permission_revoked.
	DeleteGrant(ctx context.Context, actor, workspaceID int64, s Subject) error
	FindMembers(ctx context.Context, workspaceID int64, p Page) ([]*Member, int, error)
}

// Workspace limits.
const (
	MaxWorkspaceNameLen = 150
	MaxSlugLen          = 64
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidSlug reports whether s is a well-formed slug.
func ValidSlug(s string) bool { return len(s) <= MaxSlugLen && slugPattern.MatchString(s) }

// Slugify derives a slug from a name: letters are stripped of accents and
// lower-cased, runs of anything else become one "-". A name with nothing
// usable gives "workspace".
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		default:
			dash = true
		}
		if b.Len() >= MaxSlugLen-8 {
			break
		}
	}
	if b.Len() == 0 {
		return "workspace"
	}
	return b.String()
}

// ValidateName checks a workspace or group name.
func ValidateName(field, name string) error {
	switch n := utf8.RuneCountInString(strings.TrimSpace(name)); {
	case n == 0:
		return FieldError(EINVALID, field, "This field may not be blank.")
	case utf8.RuneCountInString(name) > MaxWorkspaceNameLen:
		return FieldError(EINVALID, field, tooLong(MaxWorkspaceNameLen))
	case hasControl(name, false):
		return FieldError(EINVALID, field, "This field may not contain control characters.")
	}
	return nil
}

// Group is a set of users that can be granted workspace roles together.
type Group struct {
	ID          int64
	Name        string
	MemberCount int
	// ExternalID is the identity provider's id of the group (SCIM
	// externalId), "" when none was given.
	ExternalID string
	CreatedAt  time.Time
	// ModifiedAt is the time of the last rename or membership change (nil
	// before the first one).
	ModifiedAt *time.Time
	// Version increases with every rename and membership change (the SCIM
	// ETag).
	Version int64
}

// GroupService stores groups and memberships. ENOTFOUND for absent groups
// or users, ECONFLICT for a taken name (case-insensitive).
type GroupService interface {
	FindGroupByID(ctx context.Context, id int64) (*Group, error)
	FindGroups(ctx context.Context, p Page) ([]*Group, int, error)
	// SearchGroups lists the groups whose name contains q (ignoring ASCII
	// case), by id.
	SearchGroups(ctx context.Context, q string, p Page) ([]*Group, int, error)
	CreateGroup(ctx context.Context, actor int64, g *Group) error
	UpdateGroup(ctx context.Context, actor, id int64, name string) (*Group, error)
	DeleteGroup(ctx context.Context, actor, id int64) error
	FindGroupMembers(ctx context.Context, id int64, p Page) ([]*User, int, error)
	// AddGroupMember is idempotent; it records group.member_added only when
	// the user was not a member.
	AddGroupMember(ctx context.Context, actor, groupID, userID int64) error
	// RemoveGroupMember records group.member_removed; ENOTFOUND when the
	// user is not a member.
	RemoveGroupMember(ctx context.Context, actor, groupID, userID int64) error
}
