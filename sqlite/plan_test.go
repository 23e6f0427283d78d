package sqlite_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rosterhq/roster/sqlstore"
)

// TestPlans checks that statements run on every poll, or inside the write
// transaction, read an index rather than a whole table: the answers are
// the same either way, so only the plan shows it.
func TestPlans(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 500, Activities: 2000}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q         string
		args      []any
		want, not string
	}{
		// the last-admin check and the admin list
		{sqlstore.OtherActiveAdminsSQL, []any{1}, "users_admins", ""},
		{sqlstore.AdminsSQL, nil, "users_admins", ""},
		// the webhook dispatcher's check for new activities
		{sqlstore.WebhookPendingSQL, nil, "", "SCAN activities"},
		// the pruner of the users delta feed's tombstones
		{sqlstore.StampTombstonesSQL, []any{1}, "user_changes_tombstones", ""},
		{sqlstore.PrunedSeqSQL, []any{1}, "user_changes_tombstones", ""},
		{sqlstore.PruneTombstonesSQL, []any{1}, "user_changes_tombstones", ""},
	} {
		rows, err := db.ReadDB().QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.q, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		if c.want != "" && !strings.Contains(p, c.want) || c.not != "" && strings.Contains(p, c.not) {
			t.Errorf("plan of %s:\n%s", c.q, p)
		}
	}
}
