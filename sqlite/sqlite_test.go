package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/storetest"
)

// mustOpenDB returns a migrated database in a new file, closed with the test.
func mustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "roster.db"))
}

func mustOpenPath(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return mustOpenDB(t) })
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db := mustOpenPath(t, path)
	u := &roster.User{Username: "keep", Email: "keep@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, u, ""); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
	}
	// A second process opening the same file migrates again, harmlessly.
	db2 := mustOpenPath(t, path)
	if got, err := db2.FindUserByID(ctx, u.ID); err != nil || got.Username != "keep" {
		t.Fatalf("after re-migrating: %v, %v", got, err)
	}
	if n, err := db2.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers = %d, %v; want 1 (counters not reset by a re-run)", n, err)
	}

	raw := rawDB(t, path)
	var versions, distinct int
	if err := raw.QueryRow("SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	if versions == 0 || versions != distinct {
		t.Errorf("schema_migrations has %d rows for %d versions", versions, distinct)
	}
}

// rawDB opens the file with the same driver, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	mustOpenPath(t, path)
	var mode string
	if err := rawDB(t, path).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

// TestForeignKeys checks that the store's connections enforce foreign keys:
// deleting a user cascades to its tokens (and would fail to if they were off).
func TestForeignKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db := mustOpenPath(t, path)
	admin := &roster.User{Username: "admin", Email: "admin@example.com", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
	u := &roster.User{Username: "u", Email: "u@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	for _, x := range []*roster.User{admin, u} {
		if err := db.CreateUser(ctx, 0, x, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, hash := roster.NewTokenSecret()
	if err := db.CreateToken(ctx, &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: db.Now().Add(1e12)}); err != nil {
		t.Fatal(err)
	}
	// A token of a user that does not exist is refused.
	_, hash2 := roster.NewTokenSecret()
	if err := db.CreateToken(ctx, &roster.Token{UserID: u.ID + 100, Hash: hash2, ExpiresAt: db.Now().Add(1e12)}); err == nil {
		t.Error("CreateToken for a missing user succeeded: foreign keys are off on the writer")
	}
	if err := db.DeleteUser(ctx, admin.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rawDB(t, path).QueryRow("SELECT count(*) FROM tokens WHERE user_id = ?", u.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tokens of the deleted user remain: ON DELETE CASCADE did not run", n)
	}
}

// TestConcurrentWriters checks that writers queue instead of failing with
// "database is locked", also with a second handle (another process, such as
// the CLI) writing to the same file.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	dbs := []*sqlite.DB{mustOpenPath(t, path), mustOpenPath(t, path)}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			db := dbs[w%len(dbs)]
			for i := range each {
				name := fmt.Sprintf("w%d-u%d", w, i)
				u := &roster.User{Username: name, Email: name + "@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
				if err := db.CreateUser(ctx, 0, u, ""); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					continue
				}
				// Reads interleave with the writes.
				if _, _, err := db.FindUsers(ctx, roster.UserFilter{Page: roster.Page{Limit: 10}}); err != nil {
					errs <- fmt.Errorf("FindUsers: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := dbs[0].CountUsers(ctx); err != nil || n != writers*each {
		t.Errorf("CountUsers = %d, %v; want %d", n, err, writers*each)
	}
	users, n, err := dbs[1].FindUsers(ctx, roster.UserFilter{Page: roster.Page{Limit: 1000}})
	if err != nil || n != writers*each || len(users) != n {
		t.Errorf("FindUsers: %d users, count %d, %v; want %d", len(users), n, err, writers*each)
	}
}

// TestOpTimeout: the operation timeout (--db-timeout) bounds SQLite's
// reads and writes too; past it they are EUNAVAILABLE and change nothing.
func TestOpTimeout(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	u := &roster.User{Username: "before", Email: "before@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, u, ""); err != nil {
		t.Fatal(err)
	}
	db.SetOpTimeout(time.Nanosecond)
	if _, err := db.FindUserByID(ctx, u.ID); roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Errorf("FindUserByID past the timeout: %v, want EUNAVAILABLE", err)
	}
	late := &roster.User{Username: "late", Email: "late@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, late, ""); roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Errorf("CreateUser past the timeout: %v, want EUNAVAILABLE", err)
	}
	db.SetOpTimeout(0)
	if n, err := db.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("after the timeouts: %d users, %v; want 1", n, err)
	}
}

func TestStoredSearchRefold(t *testing.T) {
	db := mustOpenDB(t)
	storetest.StoredSearchRefold(t, db, db.WriteDB())
}

func TestStoredLaterRefold(t *testing.T) {
	db := mustOpenDB(t)
	storetest.StoredLaterRefold(t, db, db.WriteDB())
}
