package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

// TestDeepPagesMatchOffset holds the deep-page path of FindUsers (a seek
// to the page's first id) to plain OFFSET paging, with gaps in the ids,
// in both directions and with the isActive filter: first before the
// checkpoints of the users version exist, then through them, then after
// deletions (a new version) again before and through the new checkpoints.
func TestDeepPagesMatchOffset(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 2600, Groups: 5, Workspaces: 3, Activities: 2600}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2, 500, 1500, 1501, 2000, 2599} {
		if _, err := db.WriteDB().Exec("DELETE FROM users WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
	}
	// Checkpoints are built one filter at a time: four rounds reach the
	// three filters' checkpoints.
	for range 4 {
		compareDeepPages(t, db)
		db.WaitBackground()
	}
	for _, id := range []int64{3, 1025, 1026, 2100} {
		if _, err := db.WriteDB().Exec("DELETE FROM users WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		compareDeepPages(t, db)
		db.WaitBackground()
	}
}

func compareDeepPages(t *testing.T, db *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	yes, no := true, false
	for _, active := range []*bool{nil, &yes, &no} {
		for _, ordering := range []string{"id", "-id"} {
			where, dir := "", "ASC"
			if active != nil {
				where = fmt.Sprintf(" WHERE is_active = %t", *active)
			}
			if ordering == "-id" {
				dir = "DESC"
			}
			for _, off := range []int{999, 1000, 1001, 1777, 2300, 2450} {
				got, _, err := db.FindUsers(ctx, roster.UserFilter{Ordering: ordering, IsActive: active, Page: roster.Page{Offset: off, Limit: 50}})
				if err != nil {
					t.Fatal(err)
				}
				rows, err := db.ReadDB().Query(fmt.Sprintf("SELECT id FROM users%s ORDER BY id %s LIMIT 50 OFFSET %d", where, dir, off))
				if err != nil {
					t.Fatal(err)
				}
				var want []int64
				for rows.Next() {
					var id int64
					rows.Scan(&id)
					want = append(want, id)
				}
				rows.Close()
				if len(got) != len(want) {
					t.Fatalf("active %v, ordering %s, offset %d: %d users, want %d", active, ordering, off, len(got), len(want))
				}
				for i := range want {
					if got[i].ID != want[i] {
						t.Fatalf("active %v, ordering %s, offset %d: user %d is %d, want %d", active, ordering, off, i, got[i].ID, want[i])
					}
				}
			}
		}
	}
}
