package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// testSearchDetachedCount checks that a count detached from its search
// outlives it: a search whose operation ends while the count runs fails
// with EUNAVAILABLE, and the count goes on, is stored, and answers the
// searches that waited with it and those after it; after a user write, its
// stored row does.
func testSearchDetachedCount(t *testing.T, h *harness) {
	if !h.cache {
		t.Skip("counts are detached with the cache layer only")
	}
	for i := range 30 {
		h.create(user(fmt.Sprintf("zqxw%02d", i)))
	}
	h.create(user("other"))
	h.s.SetDetachedCountMin(1)
	h.s.SetStoredSearchMin(1)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // before the store closes, which waits for the count
	var counted atomic.Int32
	h.s.SetSearchCountedHook(func() {
		counted.Add(1)
		select { // a search that counts for itself fails below, rather than hangs
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})

	ctx, cancel := context.WithTimeout(h.ctx, 200*time.Millisecond)
	_, _, err := h.s.SearchUsers(ctx, newSearch("zqxw", nil, 0, 10))
	cancel()
	if roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Fatalf("search past its deadline while its count runs: err %v, want EUNAVAILABLE", err)
	}

	// Searches that wait for the same count, one of them past the first
	// page and one for active users only (a count of its own).
	type result struct {
		users []*roster.User
		total int
		err   error
	}
	searches := []roster.UserSearch{newSearch("zqxw", nil, 0, 10), newSearch("zqxw", nil, 25, 10), newSearch("ZQXW", nil, 0, 10),
		newSearch("zqxw", ptr(true), 0, 10)}
	results := make([]result, len(searches))
	var wg sync.WaitGroup
	for i, s := range searches {
		wg.Go(func() {
			users, total, err := h.s.SearchUsers(h.ctx, s)
			results[i] = result{users, total, err}
		})
	}
	time.Sleep(100 * time.Millisecond) // let them wait
	open()
	wg.Wait()
	wantLen := []int{10, 5, 10, 10}
	for i, r := range results {
		if r.err != nil || r.total != 30 || len(r.users) != wantLen[i] {
			t.Fatalf("search %d (%+v): %d users, total %d, err %v; want %d users, total 30", i, searches[i], len(r.users), r.total, r.err, wantLen[i])
		}
	}
	// The query and the isActive filter: two counts, each made once.
	if n := counted.Load(); n != 2 {
		t.Fatalf("counted %d times, want 2 (one per query and filter)", n)
	}
	// The searches went on before the counts were stored.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stored, skipped, failed := h.s.SearchCountStats()
		if stored == 2 && failed == 0 {
			break
		}
		if stored+skipped+failed >= 2 || time.Now().After(deadline) {
			t.Fatalf("search counts: %d stored, %d skipped, %d failed; want 2 stored", stored, skipped, failed)
		}
	}

	// A user write starts a new users version: the stored count, kept by
	// the triggers, answers without counting again.
	h.create(user("zqxw30"))
	if _, total, err := h.s.SearchUsers(h.ctx, newSearch("zqxw", nil, 0, 10)); err != nil || total != 31 {
		t.Fatalf("search after a write: total %d, err %v; want 31", total, err)
	}
	if n := counted.Load(); n != 2 {
		t.Fatalf("counted %d times after a write, want still 2", n)
	}
}

// testSearchDetachedCountStale checks a detached count too small to be
// stored (under the store's minimum of matches) that a user write makes
// stale before the waiting search reads it: the search then counts in its
// own transaction, once, and answers the exact count; later searches for
// it count in theirs.
func testSearchDetachedCountStale(t *testing.T, h *harness) {
	if !h.cache {
		t.Skip("counts are detached with the cache layer only")
	}
	for i := range 30 {
		h.create(user(fmt.Sprintf("zqxw%02d", i)))
	}
	h.s.SetDetachedCountMin(1) // the fewest matches to store stays 10,000
	var detached atomic.Int32
	var writeErr error
	h.s.SetDetachedCountHook(func() {
		if detached.Add(1) == 1 {
			writeErr = h.s.CreateUser(h.ctx, 0, user("zqxw30"), "")
		}
	})
	users, total, err := h.s.SearchUsers(h.ctx, newSearch("zqxw", nil, 0, 50))
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if err != nil || total != 31 || len(users) != 31 {
		t.Fatalf("search after its detached count went stale: %d users, total %d, err %v; want 31", len(users), total, err)
	}
	if n := detached.Load(); n != 1 {
		t.Fatalf("%d detached counts, want 1 (the search's second attempt counts itself)", n)
	}
	// Too few matches to be stored: from now on the search counts itself.
	h.create(user("zqxw31"))
	if _, total, err := h.s.SearchUsers(h.ctx, newSearch("zqxw", nil, 0, 50)); err != nil || total != 32 {
		t.Fatalf("search after a write: total %d, err %v; want 32", total, err)
	}
	if n := detached.Load(); n != 1 {
		t.Fatalf("%d detached counts after a write, want still 1", n)
	}
}
