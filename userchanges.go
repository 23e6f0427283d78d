package roster

import (
	"context"
	"time"
)

// UserChangesKeep is how long the users delta feed keeps a deletion: a
// cursor older than a deletion pruned after this long is answered EGONE.
const UserChangesKeep = 30 * 24 * time.Hour

// UserChange is one entry of the users delta feed: the latest state of a
// user (User set) or its deletion (User nil).
type UserChange struct {
	ID   int64
	User *UserSummary
}

// UserChanges is one answer of the delta feed.
type UserChanges struct {
	// Installation names the database the sequence numbers belong to.
	Installation string
	Changes      []UserChange
	// Seq is the position to ask from next.
	Seq     int64
	HasMore bool
}

// UserChangeService is the users delta feed: what changed in the directory
// since a position, for clients that mirror it.
type UserChangeService interface {
	// FindUserChanges returns up to limit changes after position seq (0:
	// from the beginning), oldest first, each user at most once with its
	// latest state. A seq from before the kept history, or from another
	// installation, is EGONE.
	FindUserChanges(ctx context.Context, installation string, seq int64, limit int) (*UserChanges, error)
	// PruneUserChanges forgets deletions first seen by an earlier prune
	// more than keep ago, and stamps the ones seen for the first time.
	PruneUserChanges(ctx context.Context, keep time.Duration) error
}
