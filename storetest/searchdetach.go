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
// with EUNAVAILABLE, and the count goes on, answers the searches that
// waited with it before it is stored (storing may wait for the committer),
// is stored, and answers the searches after it; after a user write, its
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
	counting, storing := newGate(t), newGate(t)
	var counted, toStore atomic.Int32
	h.s.SetDetachedCountHook(func() {
		counted.Add(1)
		counting.wait()
	})
	h.s.SetSearchCountedHook(func() {
		toStore.Add(1)
		storing.wait()
	})

	ctx, cancel := context.WithTimeout(h.ctx, 200*time.Millisecond)
	_, _, err := h.s.SearchUsers(ctx, newSearch("zqxw", nil, 0, 10))
	cancel()
	if roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Fatalf("search past its deadline while its count runs: err %v, want EUNAVAILABLE", err)
	}

	// Searches that wait for the same count, one of them past the first
	// page, and one for active users only (a count of its own, which
	// starts when the first is stored: one detached count at a time).
	type result struct {
		users []*roster.User
		total int
		err   error
	}
	searches := []roster.UserSearch{newSearch("zqxw", nil, 0, 10), newSearch("zqxw", nil, 25, 10), newSearch("ZQXW", nil, 0, 10),
		newSearch("zqxw", ptr(true), 0, 10)}
	results := make([]result, len(searches))
	var first, last sync.WaitGroup
	for i, s := range searches {
		wg := &first
		if s.IsActive != nil {
			wg = &last
		}
		wg.Go(func() {
			users, total, err := h.s.SearchUsers(h.ctx, s)
			results[i] = result{users, total, err}
		})
	}
	time.Sleep(100 * time.Millisecond) // let them wait
	counting.open()
	first.Wait()
	// The searches went on before their count was stored: it waits in the
	// storing hook, and none is stored yet.
	for deadline := time.Now().Add(5 * time.Second); toStore.Load() < 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if stored, skipped, failed := h.s.SearchCountStats(); stored+skipped+failed != 0 || toStore.Load() != 1 {
		t.Fatalf("the searches returned after %d counts were stored, %d skipped, %d failed (%d reached storing); want them back before any is stored",
			stored, skipped, failed, toStore.Load())
	}
	storing.open()
	last.Wait()
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

// gate holds the hooks that wait on it until it is opened, or for 5 s: a
// search that counts for itself then fails its test, rather than hangs.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

// newGate returns a closed gate that opens when t's test ends, before the
// store closes (which waits for the counts its hooks hold).
func newGate(t testing.TB) *gate {
	g := &gate{ch: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

func (g *gate) wait() {
	select {
	case <-g.ch:
	case <-time.After(5 * time.Second):
	}
}

// testSearchStoredLater checks that a search's count that finds another
// count being stored is stored afterwards, in the background, when no user
// changed meanwhile, and is not when one did (it is made again by a later
// search, and stored then).
func testSearchStoredLater(t *testing.T, h *harness) {
	for _, term := range []string{"zqxw", "hjkl", "qpzm", "vbnj", "rfvt"} {
		for i := range 30 {
			h.create(user(fmt.Sprintf("%s%02d", term, i)))
		}
	}
	h.s.SetDetachedCountMin(0)
	h.s.SetStoredSearchMin(1)
	var hold atomic.Pointer[gate]
	held := make(chan struct{}, 1)
	var turns atomic.Int32
	h.s.SetSearchCountedHook(func() {
		turns.Add(1)
		if g := hold.Swap(nil); g != nil {
			held <- struct{}{}
			g.wait()
		}
	})
	// holding runs f while a search for term holds the storing of its
	// count, then lets it go and waits for it.
	holding := func(term string, f func()) {
		g := newGate(t)
		hold.Store(g)
		done := make(chan error, 1)
		go func() {
			_, _, err := h.s.SearchUsers(h.ctx, newSearch(term, nil, 0, 10))
			done <- err
		}()
		<-held
		f()
		g.open()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	waitStats := func(wantStored, wantSkipped int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			stored, skipped, failed := h.s.SearchCountStats()
			if stored == wantStored && skipped == wantSkipped && failed == 0 {
				return
			}
			if failed != 0 || stored > wantStored || skipped > wantSkipped || time.Now().After(deadline) {
				t.Fatalf("search counts: %d stored, %d skipped, %d failed; want %d stored, %d skipped", stored, skipped, failed, wantStored, wantSkipped)
			}
		}
	}
	search := func(q string, want int) {
		t.Helper()
		if _, total, err := h.s.SearchUsers(h.ctx, newSearch(q, nil, 0, 10)); err != nil || total != want {
			t.Fatalf("search %q: total %d, err %v; want %d", q, total, err, want)
		}
	}

	// No user changes: the count waits its turn and is stored.
	holding("zqxw", func() { search("qpzm", 30) })
	waitStats(2, 0)
	h.create(user("qpzm30"))
	before := turns.Load()
	search("qpzm", 31) // from the stored row, kept by the triggers
	if n := turns.Load(); n != before {
		t.Fatalf("the search after a write counted again (%d counts had their turn to be stored, want %d)", n, before)
	}

	// A user changes before its turn: it is skipped, and the next search
	// counts and stores it.
	stored0, skipped0, _ := h.s.SearchCountStats()
	holding("hjkl", func() {
		search("vbnj", 30)
		h.create(user("vbnj30"))
	})
	waitStats(stored0+1, skipped0+1)
	search("vbnj", 31)
	waitStats(stored0+2, skipped0+1)

	// A user changes while a count waits, and the same search counts
	// again: the newer count replaces the waiting one and is stored.
	for i := range 30 {
		h.create(user(fmt.Sprintf("wsxe%02d", i)))
	}
	stored0, skipped0, _ = h.s.SearchCountStats()
	holding("rfvt", func() {
		search("wsxe", 30)
		h.create(user("wsxe30"))
		search("wsxe", 31)
	})
	waitStats(stored0+2, skipped0+1)
	before = turns.Load()
	search("wsxe", 31)
	if n := turns.Load(); n != before {
		t.Fatalf("the newer count was not stored (%d counts had their turn to be stored, want %d)", n, before)
	}
}
