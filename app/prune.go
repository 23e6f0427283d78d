package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/rosterhq/roster"
)

// pruneInterval is how often serve prunes the users delta feed's
// tombstones and the webhook delivery log.
const pruneInterval = time.Hour

// deliveryLogKeep is how long logged webhook attempts are kept.
const deliveryLogKeep = 30 * 24 * time.Hour

type pruner interface {
	PruneUserChanges(ctx context.Context, keep time.Duration) error
	PruneWebhookDeliveries(ctx context.Context, keep time.Duration) error
}

// prune runs at once and then every pruneInterval until ctx ends: a
// deletion stays in the delta feed at least roster.UserChangesKeep. With
// several instances each prunes; the work is idempotent.
func prune(ctx context.Context, s pruner, log *slog.Logger) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		if err := s.PruneUserChanges(ctx, roster.UserChangesKeep); err != nil && ctx.Err() == nil {
			log.Warn("pruning the users delta feed failed", "error", err.Error())
		}
		if err := s.PruneWebhookDeliveries(ctx, deliveryLogKeep); err != nil && ctx.Err() == nil {
			log.Warn("pruning the webhook delivery log failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
