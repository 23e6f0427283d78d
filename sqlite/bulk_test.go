package sqlite_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/sqlstore"
)

// TestSeedMergesSearchIndex checks that a seed leaves users_fts in one
// segment, which every phrase query then reads instead of merging several,
// and that the merged index agrees with users. A small FTS5 hash makes the
// rebuild of a few users write many segments, as that of 8,000 users
// writes two and that of 1M users eleven with the default one.
func TestSeedMergesSearchIndex(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	if _, err := db.WriteDB().Exec(`INSERT INTO users_fts(users_fts, rank) VALUES ('hashsize', 4096)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 300, Groups: 5, Workspaces: 3, Activities: 100}); err != nil {
		t.Fatal(err)
	}
	var segments int
	if err := db.ReadDB().QueryRow(`SELECT count(DISTINCT segid) FROM users_fts_idx`).Scan(&segments); err != nil {
		t.Fatal(err)
	}
	if segments != 1 {
		t.Errorf("users_fts has %d segments after a seed, want 1", segments)
	}
	if _, err := db.WriteDB().Exec(`INSERT INTO users_fts(users_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("users_fts integrity check: %v", err)
	}
}
