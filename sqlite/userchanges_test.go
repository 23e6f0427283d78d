package sqlite_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
)

// TestSeedFillsUserChanges checks that a seed, which runs with the
// triggers set aside, leaves every seeded user in the users delta feed,
// and that the triggers are back for the writes after it.
func TestSeedFillsUserChanges(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 700, Groups: 3, Workspaces: 2, Activities: 700}); err != nil {
		t.Fatal(err)
	}
	storetest.CheckUserChangesCoverUsers(t, db)
	u := &roster.User{Username: "after", Email: "after@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, u, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WriteDB().Exec("DELETE FROM users WHERE id = 5"); err != nil {
		t.Fatal(err)
	}
	storetest.CheckUserChangesCoverUsers(t, db)
}
