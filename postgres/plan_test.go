package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
)

// TestWebhookPendingPlan checks that the webhook dispatcher's check for
// new activities reads the end of the primary key, not every activity:
// it runs on every poll of every instance, and its plan can fall back to
// a sequential scan while still giving right answers (it did, 1.8 s a poll
// at 20M activities), so only the plan shows it.
func TestWebhookPendingPlan(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 200, Workspaces: 4, Activities: 20000}); err != nil {
		t.Fatal(err)
	}
	pending := func() bool {
		t.Helper()
		var p bool
		if err := db.ReadDB().QueryRowContext(ctx, sqlstore.WebhookPendingSQL).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if !pending() {
		t.Fatal("no activities pending after the seed")
	}
	// No webhook: the dispatch moves the cursor to the newest activity.
	if _, err := db.DispatchWebhookJobs(ctx, 500); err != nil {
		t.Fatal(err)
	}
	if pending() {
		t.Fatal("activities pending after the dispatch")
	}
	if p := explain(t, db, sqlstore.WebhookPendingSQL); strings.Contains(p, "Seq Scan on activities") || !strings.Contains(p, "activities_pkey") {
		t.Errorf("the pending check does not read the end of activities_pkey:\n%s", p)
	}
	a := &roster.Activity{ActorID: 1, Verb: "noted", Object: &roster.ActivityObject{Type: "note", ID: "after"}}
	if err := db.CreateActivity(ctx, a); err != nil {
		t.Fatal(err)
	}
	if !pending() {
		t.Error("a new activity is not pending")
	}
}

// TestAdminChecksPlan checks that the last-admin check and the admin list
// read the admins from users_admins (migration 0110) rather than every
// user: the check runs inside the write transaction of each change of an
// admin, and scanned 10M users in 2.1 s before the index.
func TestAdminChecksPlan(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 5000}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		args []any
	}{{sqlstore.OtherActiveAdminsSQL, []any{1}}, {sqlstore.AdminsSQL, nil}} {
		if p := explain(t, db, c.q, c.args...); !strings.Contains(p, "users_admins") {
			t.Errorf("%s does not read users_admins:\n%s", c.q, p)
		}
	}
}

// TestPruneUserChangesPlan checks that the pruner of the users delta
// feed reads the tombstones through user_changes_tombstones: it runs in
// the write transaction at every start and every hour, and the largest
// pruned seq walked the seq index through every change (1M rows, 217 ms
// at 1M users) while there were no tombstones to find.
func TestPruneUserChangesPlan(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 5000}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{sqlstore.StampTombstonesSQL, sqlstore.PrunedSeqSQL, sqlstore.PruneTombstonesSQL} {
		if p := explain(t, db, q, time.Now()); !strings.Contains(p, "user_changes_tombstones") {
			t.Errorf("%s does not read user_changes_tombstones:\n%s", q, p)
		}
	}
	// And it prunes: a deleted user's tombstone is stamped, then deleted
	// once it is older than keep.
	if err := db.DeleteUser(ctx, 0, 7); err != nil {
		t.Fatal(err)
	}
	if err := db.PruneUserChanges(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	tombstones := func() (n int) {
		t.Helper()
		if err := db.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM user_changes WHERE deleted").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tombstones(); n != 1 {
		t.Fatalf("%d tombstones after a delete and a prune, want 1", n)
	}
	if err := db.PruneUserChanges(ctx, -time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := tombstones(); n != 0 {
		t.Errorf("%d tombstones after a prune past their keep, want 0", n)
	}
}

// explain returns the plan of q, written with ? placeholders, with args on
// db.
func explain(t *testing.T, db *sqlstore.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.ReadDB().QueryContext(context.Background(), "EXPLAIN "+db.Dialect().Rebind(q), args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
