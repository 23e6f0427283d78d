package roster

import (
	"encoding/json"
	"regexp"
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
	VerbGroupMemberAdded           = "group.member_added"
	VerbGroupMemberRemoved         = "group.member_removed"
)

// Activity limits from the contract.
const (
	MaxVerbLen  = 64
	MaxDataSize = 8 << 10
)

var verbPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// ValidVerb reports whether v is a well-formed verb.
func ValidVerb(v string) bool {
	return len(v) <= MaxVerbLen && verbPattern.MatchString(v)
}
