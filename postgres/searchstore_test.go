package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
)

// BenchmarkStoredSearchWrites measures a user write with 0 and 256 stored
// search counts (storetest.BenchStoredSearchWrites); it needs
// ROSTER_TEST_POSTGRES.
func BenchmarkStoredSearchWrites(b *testing.B) {
	db := mustOpen(b)
	storetest.BenchStoredSearchWrites(b, db, db.WriteDB())
}

// openURL opens and migrates a store on url with a pool of conns and a
// 5 s operation timeout.
func openURL(t *testing.T, url string, conns int) *sqlstore.DB {
	return openWith(t, url, postgres.Options{MaxConns: conns, OpTimeout: 5 * time.Second})
}

// createUsers creates n active users named prefix00, prefix01, ... and
// returns their ids.
func createUsers(t *testing.T, db *sqlstore.DB, prefix string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		name := fmt.Sprintf("%s%02d", prefix, i)
		u := &roster.User{Username: name, Email: name + "@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
		if err := db.CreateUser(context.Background(), 0, u, ""); err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	return ids
}

func search(q string, isActive *bool) roster.UserSearch {
	terms := roster.SearchTerms(q)
	return roster.UserSearch{Terms: terms, Query: strings.Join(terms, " "), IsActive: isActive, Page: roster.Page{Limit: 10}}
}

// A program that writes users without the store's advisory lock (psql, an
// ETL job) must not leave a stored count wrong: while it holds uncommitted
// writes to users, a count is not stored; once stored, its writes are
// counted by the triggers.
func TestStoredSearchOutsideWriter(t *testing.T) {
	url := pgtest.URL(t)
	db := openURL(t, url, 4)
	db.SetStoredSearchMin(1)
	ctx := context.Background()
	ids := createUsers(t, db, "zedd", 3)
	outside, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	active := true
	total := func(want int) {
		t.Helper()
		_, n, err := db.SearchUsers(ctx, search("zedd", &active))
		if err != nil || n != want {
			t.Fatalf("search zedd (active): total %d, %v; want %d", n, err, want)
		}
	}
	stats := func(wantStored, wantSkipped int64) {
		t.Helper()
		stored, skipped, failed := db.SearchCountStats()
		if stored != wantStored || skipped != wantSkipped || failed != 0 {
			t.Fatalf("search counts: %d stored, %d skipped, %d failed; want %d, %d, 0", stored, skipped, failed, wantStored, wantSkipped)
		}
	}

	tx, err := outside.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE users SET is_active = false WHERE id = $1", ids[0]); err != nil {
		t.Fatal(err)
	}
	db.SetCache(false) // every search counts, so every search may store
	total(3)           // the outside change is not committed
	stats(0, 1)        // and it holds users: not stored
	var rows int
	if err := outside.QueryRow("SELECT count(*) FROM search_counts").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("search_counts: %d rows (%v), want 0", rows, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	total(2)
	stats(1, 1)
	// Outside writes after the storing: the triggers keep the row.
	if _, err := outside.Exec("UPDATE users SET is_active = true WHERE id = $1", ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := outside.Exec("UPDATE users SET is_active = false WHERE id IN ($1, $2)", ids[1], ids[2]); err != nil {
		t.Fatal(err)
	}
	total(1)
	stats(1, 1) // read from the row, not counted again
	var stored int
	if err := outside.QueryRow("SELECT total FROM search_counts WHERE query = 'zedd' AND active = 1").Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored total: %d (%v), want 1", stored, err)
	}
}

// Storing a count holds the search's connection while it waits for the
// committer, which takes its connection from the same pool. Searches that
// store and writes, together on a pool of two connections, must all be
// answered: none may wait out the operation timeout (a 503).
func TestStoredSearchSmallPool(t *testing.T) {
	db := openURL(t, pgtest.URL(t), 2)
	db.SetStoredSearchMin(1)
	db.SetCache(false)
	ctx := context.Background()
	ids := createUsers(t, db, "pool", 40)
	deadline := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	var mu sync.Mutex
	searches, writes := 0, 0
	for g := range 6 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				start := time.Now()
				// Terms of many shapes, so that most counts are new ones.
				_, _, err := db.SearchUsers(ctx, search(fmt.Sprintf("pool%d", (g*7+i)%10), nil))
				if err == nil && time.Since(start) > 4*time.Second {
					err = fmt.Errorf("a search took %v", time.Since(start))
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				searches++
				mu.Unlock()
			}
		})
	}
	for g := range 2 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				name := fmt.Sprintf("pool%d", i%10)
				start := time.Now()
				_, err := db.UpdateUser(ctx, 0, ids[(g*20+i)%len(ids)], roster.UserUpdate{FirstName: &name})
				if err == nil && time.Since(start) > 4*time.Second {
					err = fmt.Errorf("a write took %v", time.Since(start))
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				writes++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stored, skipped, failed := db.SearchCountStats()
	t.Logf("%d searches, %d writes; counts %d stored, %d skipped, %d failed", searches, writes, stored, skipped, failed)
	if searches == 0 || writes == 0 || failed != 0 {
		t.Fatalf("%d searches, %d writes, %d counts failed: want some of each and none failed", searches, writes, failed)
	}
}

// Searches for one term wait for one count (the count cache), holding
// their connections; the search that counts must not wait for the
// committer, which needs one of them, until the operation timeout.
func TestStoredSearchSameTermSmallPool(t *testing.T) {
	db := openURL(t, pgtest.URL(t), 4)
	db.SetStoredSearchMin(1)
	ctx := context.Background()
	ids := createUsers(t, db, "flight", 20)
	db.SetSearchCountedHook(func() { time.Sleep(300 * time.Millisecond) }) // a slow count
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 6 {
		wg.Go(func() {
			start := time.Now()
			_, n, err := db.SearchUsers(ctx, search("flight", nil))
			if err == nil && (n != 20 || time.Since(start) > 4*time.Second) {
				err = fmt.Errorf("search: total %d after %v, want 20 within 4 s", n, time.Since(start))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Go(func() {
		time.Sleep(100 * time.Millisecond)
		name := "x"
		start := time.Now()
		_, err := db.UpdateUser(ctx, 0, ids[0], roster.UserUpdate{FirstName: &name})
		if err == nil && time.Since(start) > 4*time.Second {
			err = fmt.Errorf("a write took %v", time.Since(start))
		}
		if err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Another process holding Roster's write lock (a seed, a migration,
// another instance's long write) delays storing, not the search: it stops
// waiting after about a second and answers.
func TestStoredSearchWriteLockHeld(t *testing.T) {
	url := pgtest.URL(t)
	db := openURL(t, url, 4)
	db.SetStoredSearchMin(1)
	ctx := context.Background()
	createUsers(t, db, "held", 5)
	other, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// Every write of a store takes this lock first (BeginWrite).
	if _, err := tx.Exec("SELECT pg_advisory_xact_lock($1)", int64(0x526f73746572)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, n, err := db.SearchUsers(ctx, search("held", nil))
	if err != nil || n != 5 || time.Since(start) > 4*time.Second {
		t.Fatalf("search with the write lock held elsewhere: total %d, %v, after %v; want 5 within 4 s", n, err, time.Since(start))
	}
	if stored, skipped, failed := db.SearchCountStats(); stored != 0 || skipped != 1 || failed != 0 {
		t.Fatalf("search counts: %d stored, %d skipped, %d failed; want 0, 1, 0", stored, skipped, failed)
	}
	tx.Rollback()
	// The abandoned request does nothing once the lock is free.
	time.Sleep(200 * time.Millisecond)
	var rows int
	if err := other.QueryRow("SELECT count(*) FROM search_counts").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("search_counts: %d rows (%v), want 0", rows, err)
	}
}

// A program writing users in a REPEATABLE READ transaction whose snapshot
// predates a stored count would apply its change to search_counts where
// the new row is invisible: it must fail instead, and the count stay exact.
func TestStoredSearchOutsideRepeatableRead(t *testing.T) {
	url := pgtest.URL(t)
	db := openURL(t, url, 4)
	db.SetStoredSearchMin(1)
	db.SetCache(false)
	ctx := context.Background()
	ids := createUsers(t, db, "rrwxy", 3)
	outside, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	tx, err := outside.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRow("SELECT 1 FROM users LIMIT 1").Scan(&one); err != nil { // takes the snapshot
		t.Fatal(err)
	}
	active := true
	if _, n, err := db.SearchUsers(ctx, search("rrwxy", &active)); err != nil || n != 3 {
		t.Fatalf("search: total %d (%v), want 3", n, err)
	}
	if stored, _, _ := db.SearchCountStats(); stored != 1 {
		t.Fatalf("%d counts stored, want 1", stored)
	}
	_, uerr := tx.Exec("UPDATE users SET is_active = false WHERE id = $1", ids[0])
	cerr := tx.Commit()
	if uerr == nil && cerr == nil {
		t.Fatal("the outside REPEATABLE READ update committed; want a serialization failure")
	}
	var truth int
	if err := outside.QueryRow("SELECT count(*) FROM users WHERE is_active AND strpos(search_text, 'rrwxy') > 0").Scan(&truth); err != nil {
		t.Fatal(err)
	}
	if _, n, err := db.SearchUsers(ctx, search("rrwxy", &active)); err != nil || n != truth {
		t.Fatalf("search: total %d (%v), true count %d", n, err, truth)
	}
}

func TestStoredSearchRefold(t *testing.T) {
	db := mustOpen(t)
	storetest.StoredSearchRefold(t, db, db.WriteDB())
}

func TestStoredLaterRefold(t *testing.T) {
	db := mustOpen(t)
	storetest.StoredLaterRefold(t, db, db.WriteDB())
}
