package postgres_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
)

// mustOpen returns a migrated store on a fresh schema.
func mustOpen(t testing.TB) *sqlstore.DB {
	t.Helper()
	return openWith(t, pgtest.URL(t), postgres.Options{MaxConns: 4})
}

// openWith opens a store on url with opts and migrates it.
func openWith(t testing.TB, url string, opts postgres.Options) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return mustOpen(t) })
}

func TestMigrateTwice(t *testing.T) {
	db := mustOpen(t)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}
