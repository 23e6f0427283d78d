package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlstore"
)

// TestTimeoutIsUnavailable: a query the database cancels (statement_timeout,
// SQLSTATE 57014) or one cut by the operation timeout, at any point of a
// read (the query, the rows' iteration, a later statement of the read
// transaction), is EUNAVAILABLE (503), never an internal error (500).
func TestTimeoutIsUnavailable(t *testing.T) {
	ctx := context.Background()
	base := pgtest.URL(t)
	db, err := postgres.Open(ctx, base, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 5000, Activities: 5000}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("statement_timeout", "1")
	u.RawQuery = q.Encode()
	slow, err := postgres.Open(ctx, u.String(), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	search := func(db *sqlstore.DB) error {
		_, _, err := db.SearchUsers(ctx, roster.UserSearch{Terms: []string{"a"}, Query: "a", Page: roster.Page{Limit: 20}})
		return err
	}
	list := func(db *sqlstore.DB) error {
		_, _, err := db.FindUsers(ctx, roster.UserFilter{Page: roster.Page{Limit: 20}})
		return err
	}
	// Another transaction holds the tables the reads need, so that their
	// first statement waits past statement_timeout whatever the machine's
	// speed: a search for "a" in 5,000 users can finish within 1 ms, and
	// then nothing was cancelled.
	lock, err := db.WriteDB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "LOCK TABLE users, counters, search_grams IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func(*sqlstore.DB) error{"search": search, "list": list} {
		if err := op(slow); roster.ErrorCode(err) != roster.EUNAVAILABLE {
			t.Errorf("%s with statement_timeout 1ms: %v (code %q), want %q", name, err, roster.ErrorCode(err), roster.EUNAVAILABLE)
		}
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, op := range []func(*sqlstore.DB) error{search, list} {
		for i := range 200 {
			db.SetOpTimeout(time.Duration(50+i*i*8) * time.Microsecond)
			err := op(db)
			codes[roster.ErrorCode(err)]++
			if err != nil && roster.ErrorCode(err) != roster.EUNAVAILABLE {
				t.Errorf("with operation timeout %v: %v (code %q), want %q", time.Duration(50+i*50)*time.Microsecond, err, roster.ErrorCode(err), roster.EUNAVAILABLE)
			}
		}
	}
	t.Logf("codes: %v", codes)
}
