package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
)

// TestSeed checks that a seed with the triggers set aside leaves what the
// triggers maintain right, and turns them back on; and that a seed into an
// empty database, which sets the secondary indexes aside, builds every one
// again as it was.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	indexes := func() string {
		var defs string
		if err := db.ReadDB().QueryRowContext(ctx, `SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename IN ('users', 'group_members', 'activities', 'workspace_user_grants', 'workspace_group_grants')`).
			Scan(&defs); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := indexes()
	if !strings.Contains(before, "users_search_trgm") {
		t.Fatalf("indexes before the seed lack users_search_trgm:\n%s", before)
	}
	res, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 300, Groups: 6, Workspaces: 4, Activities: 1200})
	if err != nil {
		t.Fatal(err)
	}
	if after := indexes(); after != before {
		t.Errorf("indexes after the seed:\n%s\nwant:\n%s", after, before)
	}
	if res.FirstUserID != 1 || res.LastUserID != 300 {
		t.Errorf("ids %d-%d, want 1-300", res.FirstUserID, res.LastUserID)
	}
	r := db.ReadDB()
	var count, noActive, badActive, members, counted int
	r.QueryRow(`SELECT count(*), count(*) FILTER (WHERE last_active_at IS NULL),
		count(*) FILTER (WHERE last_active_at <> (SELECT max(published) FROM activities WHERE actor_id = users.id)) FROM users`).
		Scan(&count, &noActive, &badActive)
	r.QueryRow(`SELECT (SELECT count(*) FROM group_members), (SELECT sum(member_count) FROM groups)`).Scan(&members, &counted)
	if n, err := db.CountUsers(ctx); err != nil || n != 300 || count != 300 {
		t.Errorf("CountUsers %d (%v), rows %d; want 300", n, err, count)
	}
	if noActive != 0 || badActive != 0 || members != counted {
		t.Errorf("%d users without lastActiveAt, %d with a wrong one; %d memberships, member counts sum to %d", noActive, badActive, members, counted)
	}
	storetest.CheckUserChangesCoverUsers(t, db)
	// The triggers are back: a new user counts.
	u := &roster.User{Username: "after", Email: "after@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, u, ""); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountUsers(ctx); n != 301 {
		t.Errorf("CountUsers after one more user: %d, want 301", n)
	}
}
