package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/rosterhq/roster"
)

// pruneInterval is how often serve prunes the users delta feed's
// tombstones; a deletion is kept at least roster.UserChangesKeep.
const pruneInterval = time.Hour

// pruneUserChanges prunes at once and then every pruneInterval until ctx
// ends. With several instances each prunes; the work is idempotent.
func pruneUserChanges(ctx context.Context, s roster.UserChangeService, log *slog.Logger) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		if err := s.PruneUserChanges(ctx, roster.UserChangesKeep); err != nil && ctx.Err() == nil {
			log.Warn("pruning the users delta feed failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
