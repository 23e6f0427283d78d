package roster

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// Activity is one event in a feed: an actor did verb to object in a workspace.
type Activity struct {
	ID            int64
	ActorID       int64
	ActorUsername *string // nil once the actor is deleted
	Verb          string
	Object        *ActivityObject
	WorkspaceID   *int64
	WorkspaceName string
	Data          json.RawMessage // a JSON object
	Published     time.Time
}

// ActivityObject is what an activity is about.
type ActivityObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Verbs the server records itself.
const (
	VerbUserCreated                = "user.created"
	VerbUserUpdated                = "user.updated"
	VerbUserDeleted                = "user.deleted"
	VerbAuthLogin                  = "auth.login"
	VerbWorkspaceCreated           = "workspace.created"
	VerbWorkspacePermissionGranted = "workspace.permission_granted"
	VerbWorkspacePermissionRevoked = "workspace.permission_revoked"
	VerbGroupCreated               = "group.created"
	VerbGroupUpdated               = "group.updated"
	VerbGroupDeleted               = "group.deleted"
	VerbGroupMemberAdded           = "group.member_added"
	VerbGroupMemberRemoved         = "group.member_removed"
)

// Activity limits from the contract.
const (
	MaxVerbLen  = 64
	MaxDataSize = 8 << 10
)

var verbPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// reservedVerbSpaces are the namespaces of the verbs the server records; a
// client may not post into them, so that a feed's grants and deletions are
// always the server's own.
// "webhook" is the namespace of webhook.test and webhook.disabled.
var reservedVerbSpaces = []string{"user", "auth", "workspace", "group", "token", "webhook"}

// ReservedVerb reports whether v is in a namespace the server records
// its own activities in ("user.deleted", "workspace.permission_granted",
// any "auth.*", ...).
func ReservedVerb(v string) bool {
	space, _, _ := strings.Cut(v, ".")
	for _, r := range reservedVerbSpaces {
		if space == r {
			return true
		}
	}
	return false
}

// ValidVerb reports whether v is a well-formed verb.
func ValidVerb(v string) bool {
	return len(v) <= MaxVerbLen && verbPattern.MatchString(v)
}

// ActivityFilter selects activities. Viewer is always set: the store applies
// the visibility rule of the contract to it in SQL.
type ActivityFilter struct {
	Viewer      *User
	ActorID     *int64
	WorkspaceID *int64
	Verb        string // exact verb, or a prefix ending in ".*"
	Since       *time.Time
	Until       *time.Time
	Before      int64 // only ids below it (0: no bound)
	After       int64 // only ids above it (0: no bound)
	UpTo        int64 // only ids up to and including it (0: no bound)
	Ascending   bool  // oldest first (stream replay); default newest first
	Page
}

// ActiveWorkspaceFilter selects the workspaces a user acted in recently.
type ActiveWorkspaceFilter struct {
	Viewer  *User
	ActorID int64
	Since   time.Time
	Page
}

// ActivityService stores activities and answers feeds. Every read applies
// the visibility rule: a viewer sees an activity if it is an admin, is the
// actor, or has access to the activity's workspace.
type ActivityService interface {
	// CreateActivity stores a (ID and Published are set by the store).
	CreateActivity(ctx context.Context, a *Activity) error
	FindActivities(ctx context.Context, f ActivityFilter) ([]*Activity, error)
	// CountActivities counts the activities of f. When f.ActorID is set, it
	// is ENOTFOUND if no such user exists (checked in the same statement).
	CountActivities(ctx context.Context, f ActivityFilter) (int, error)
	FindActiveWorkspaces(ctx context.Context, f ActiveWorkspaceFilter) ([]*ActiveWorkspace, int, error)
	// LastActivityID is the id of the newest committed activity.
	LastActivityID(ctx context.Context) (int64, error)
}

// VerbMatches reports whether verb passes a verb filter (exact, or a prefix
// ending in ".*").
func VerbMatches(filter, verb string) bool {
	if filter == "" {
		return true
	}
	if p, ok := strings.CutSuffix(filter, ".*"); ok {
		return strings.HasPrefix(verb, p+".")
	}
	return verb == filter
}

// ValidVerbFilter reports whether f is an exact verb or a verb prefix ".*".
func ValidVerbFilter(f string) bool {
	if p, ok := strings.CutSuffix(f, ".*"); ok {
		return ValidVerb(p)
	}
	return ValidVerb(f)
}
