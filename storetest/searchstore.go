package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// BenchStoredSearchWrites measures what the stored search counts cost a
// user write: UpdateUser of a first name (which the search_counts triggers
// test against every stored search, and apply to those it matches, about
// one in ten here) with no stored search and with 256, the most a store
// keeps. raw is the store's database, to fill search_counts directly.
func BenchStoredSearchWrites(b *testing.B, s Store, raw *sql.DB) {
	ctx := context.Background()
	u := user("writer")
	if err := s.CreateUser(ctx, 0, u, ""); err != nil {
		b.Fatal(err)
	}
	for _, stored := range []int{0, 256} {
		if _, err := raw.ExecContext(ctx, "DELETE FROM search_counts"); err != nil {
			b.Fatal(err)
		}
		for i := range stored {
			if _, err := raw.ExecContext(ctx, fmt.Sprintf(
				"INSERT INTO search_counts (query, active, terms, total, prefix) VALUES ('q%d', %d, 'e%d', 0, 0)", i, i%3-1, i%10)); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				name := fmt.Sprintf("name%d", i)
				if _, err := s.UpdateUser(ctx, 0, u.ID, roster.UserUpdate{FirstName: &name}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// StoredSearchRefold checks that a user whose search_text alone changes
// while a count is being stored (a new folding of the same names, written
// by a migration or a program through raw, the store's database) is
// counted again before the count is stored: user_changes records such a
// change (migration 0101), and a stored count that missed it would stay
// wrong for as long as it is kept.
func StoredSearchRefold(t *testing.T, s Store, raw *sql.DB) {
	ctx := context.Background()
	var ids []int64
	for i := range 4 {
		u := user(fmt.Sprintf("refold%d", i))
		if err := s.CreateUser(ctx, 0, u, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	s.SetCache(false)
	s.SetStoredSearchMin(1)
	hooked := false
	s.SetSearchCountedHook(func() {
		if hooked {
			return
		}
		hooked = true
		// Written as Roster would not: the names stay, their folding goes.
		if _, err := raw.ExecContext(ctx, "UPDATE users SET search_text = 'x' WHERE id = "+fmt.Sprint(ids[0])); err != nil {
			t.Fatal(err)
		}
	})
	defer s.SetSearchCountedHook(nil)
	search := newSearch("refold", nil, 0, 10)
	if _, n, err := s.SearchUsers(ctx, search); err != nil || n != 4 {
		t.Fatalf("first search: total %d (%v), want 4 (counted before the change)", n, err)
	}
	if stored, _, failed := s.SearchCountStats(); stored != 1 || failed != 0 {
		t.Fatalf("search counts: %d stored, %d failed; want 1 stored", stored, failed)
	}
	var total int
	if err := raw.QueryRowContext(ctx, "SELECT total FROM search_counts WHERE query = 'refold'").Scan(&total); err != nil || total != 3 {
		t.Fatalf("stored total %d (%v), want 3: the change made while storing was missed", total, err)
	}
	if _, n, err := s.SearchUsers(ctx, search); err != nil || n != 3 {
		t.Fatalf("second search: total %d (%v), want 3", n, err)
	}
}

// StoredLaterRefold checks a count left to be stored later (another count
// held the storing turn) when one of its users' search_text alone changes
// before its turn (written through raw, as a migration would): the users
// version stays, and the count must still not be stored, or the row would
// stay wrong for good.
func StoredLaterRefold(t *testing.T, s Store, raw *sql.DB) {
	ctx := context.Background()
	var ids []int64
	for _, name := range []string{"refold0", "refold1", "refold2", "refold3", "holder0"} {
		u := user(name)
		if err := s.CreateUser(ctx, 0, u, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	s.SetCache(false) // the cache keeps counts per users version
	s.SetStoredSearchMin(1)
	s.SetDetachedCountMin(0)
	g := newGate(t)
	held := make(chan struct{})
	var once sync.Once
	s.SetSearchCountedHook(func() {
		once.Do(func() {
			close(held)
			g.wait()
		})
	})
	defer s.SetSearchCountedHook(nil)
	holder := make(chan error, 1)
	go func() {
		_, _, err := s.SearchUsers(ctx, newSearch("holder", nil, 0, 10))
		holder <- err
	}()
	<-held
	search := newSearch("refold", nil, 0, 10)
	if _, n, err := s.SearchUsers(ctx, search); err != nil || n != 4 {
		t.Fatalf("search while another count holds the turn: total %d (%v), want 4", n, err)
	}
	if _, err := raw.ExecContext(ctx, "UPDATE users SET search_text = 'x' WHERE id = "+fmt.Sprint(ids[0])); err != nil {
		t.Fatal(err)
	}
	g.open()
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	// Both counts have had their turn: the holder's stored, refold's skipped.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stored, skipped, failed := s.SearchCountStats()
		if stored == 1 && skipped == 1 && failed == 0 {
			break
		}
		if failed != 0 || stored > 1 || skipped > 1 || time.Now().After(deadline) {
			t.Fatalf("search counts: %d stored, %d skipped, %d failed; want 1 stored (the holder's), 1 skipped", stored, skipped, failed)
		}
	}
	var stored int
	if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM search_counts WHERE query = 'refold'").Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("%d stored rows for refold (%v), want none", stored, err)
	}
	if _, n, err := s.SearchUsers(ctx, search); err != nil || n != 3 {
		t.Fatalf("search after the change: total %d (%v), want 3", n, err)
	}
}
