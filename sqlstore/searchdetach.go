package sqlstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// Detached counts.
//
// A count of a term whose grams are common walks every user that has
// them: 1-5 s for a wide term at 10M users on SQLite, and 1-7 s for one
// at 1M users on PostgreSQL under load (BENCHMARKS.md). Made in the
// search's own read transaction, such a count ended with its request. At
// the operation timeout it was thrown away, and the next search for the
// term started it again. Meanwhile up to one count per read connection
// shared the cores, so under load at 10M users wide terms timed out again
// and again and were never counted.
//
// So a count that would walk DetachedCountMin users or more (the fewest
// users one of its grams is in, by search_grams) is detached. It runs in a
// read transaction of its own, one such count at a time, and goes on for
// up to detachedCountBudget whether or not any search still waits for it.
// Its result goes to the count cache and, when it has 10,000 matches or
// more, to search_counts. At most maxDetachedCounts run or wait for their
// turn. A search that needs it rolls back its
// transaction (so it holds no connection while it waits), waits within its
// operation timeout, and starts again, finding the count cached or stored;
// if a user write since the count's snapshot left it neither (a count under
// 10,000 matches is only cached, per users version), the search counts in
// its own transaction, as before. When the operation timeout passes first,
// the search fails with EUNAVAILABLE (503), and the count goes on.

// DefaultDetachedCountMin is the fewest users a count must walk to be
// detached: at 200,000 a count takes 0.1-0.3 s alone on either database
// at 1M users (BENCHMARKS.md), and several seconds when the cores are
// shared.
const DefaultDetachedCountMin = 200000

// detachedCountBudget bounds a detached count.
const detachedCountBudget = 2 * time.Minute

// detachedStoreWait bounds the wait of a detached count for the write
// transaction that stores it (a search's own count waits storeSearchWait).
const detachedStoreWait = 10 * time.Second

// maxDetachedCounts bounds the detached counts running or waiting for the
// slot; a search whose count would be one more answers EUNAVAILABLE at
// once.
const maxDetachedCounts = 64

// SetDetachedCountHook sets f to run after a detached count was made, and
// before the searches waiting for it go on and it is stored: tests write
// users there. nil removes it. Call it before the store serves
// searches.
func (db *DB) SetDetachedCountHook(f func()) { db.detachedCounted = f }

// SetDetachedCountMin sets the fewest users a count walks for it to be
// detached (DefaultDetachedCountMin by default; 0 never detaches). Tests
// lower it; call it before the store serves searches.
func (db *DB) SetDetachedCountMin(n int) { db.detachedCountMin = n }

// detachedCounts runs the detached counts: at most one at a time
// (slot), one per query and isActive filter (flights).
type detachedCounts struct {
	slot    chan struct{}
	mu      sync.Mutex
	flights map[detachKey]*countFlight
	// inline holds the searches whose detached count had SmallSearch
	// matches or fewer: the search's page then walks the same candidates
	// again, and such a count is not stored, so they count in the search
	// from then on.
	inline map[detachKey]bool
	// toStore holds the searches whose counts wait to be stored by
	// storeLater (searchstore.go), each with the newest of its counts.
	toStore map[detachKey]*laterCount
}

// maxInlineSearches bounds detachedCounts.inline; when it is full it starts
// over.
const maxInlineSearches = 4096

func newDetachedCounts() *detachedCounts {
	return &detachedCounts{slot: make(chan struct{}, 1), flights: map[detachKey]*countFlight{}, inline: map[detachKey]bool{},
		toStore: map[detachKey]*laterCount{}}
}

// detachKey is the search a detached count is for; its users version is
// the one its own transaction reads.
type detachKey struct {
	query  string
	active int8
}

// countPending is the error that ends a search's attempt when its count
// is detached: the search waits for f, then starts again.
type countPending struct{ f *countFlight }

func (p *countPending) Error() string { return "the search's count runs detached" }

// detachedCtxKey marks the context of a detached count, which counts in
// its own transaction rather than detaching again.
type detachedCtxKey struct{}

// searchWithCounts runs attempt, a search that may end in countPending,
// and after such an end waits for the count (within the operation timeout
// of the whole search) and runs it once more. That second attempt counts
// in its own transaction if it must: a user write since the detached
// count's snapshot leaves it usable only if it was stored.
func (db *DB) searchWithCounts(ctx context.Context, s roster.UserSearch, attempt func(ctx context.Context) ([]*roster.User, int, error)) ([]*roster.User, int, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	users, total, err := attempt(ctx)
	var p *countPending
	if !errors.As(err, &p) {
		return users, total, err
	}
	select {
	case <-p.f.done:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The message names no query: 503s are logged.
			return nil, 0, &roster.Error{Code: roster.EUNAVAILABLE, Message: "Counting the matches of this search takes longer than the operation timeout. The count goes on: retry shortly.", RetryAfter: 2 * time.Second}
		}
		return nil, 0, ctx.Err()
	}
	// A count that failed for a reason of its own (not its budget, nor
	// the store closing) fails the search.
	if err := p.f.err; err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) &&
		roster.ErrorCode(err) != roster.EUNAVAILABLE {
		return nil, 0, err
	}
	users, total, err = attempt(context.WithValue(ctx, inlineCountKey{}, true))
	if errors.As(err, &p) { // cannot happen: the second attempt does not detach
		return nil, 0, &roster.Error{Code: roster.EUNAVAILABLE, Message: "The search could not be counted; retry shortly.", RetryAfter: 2 * time.Second}
	}
	return users, total, err
}

// inlineCountKey marks the context of a search's second attempt, which
// counts in its own transaction rather than detaching again.
type inlineCountKey struct{}

// countBound returns the fewest users that one of the grams of s's terms
// (search_grams) is in: at least the matches of s, and about the users its
// count walks. It is 0 when the store keeps no grams.
func (db *DB) countBound(ctx context.Context, q Querier, s roster.UserSearch) (int, error) {
	n := db.d.MaxGram()
	if n == 0 {
		return 0, nil
	}
	seen := map[string]bool{}
	var grams []any
	for _, t := range s.Terms {
		r := []rune(t)
		if len(r) <= n {
			if !seen[t] {
				seen[t] = true
				grams = append(grams, t)
			}
			continue
		}
		for i := 0; i+n <= len(r); i++ {
			if g := string(r[i : i+n]); !seen[g] {
				seen[g] = true
				grams = append(grams, g)
			}
		}
	}
	if len(grams) == 0 {
		return 0, nil
	}
	// A gram search_grams does not have is in no user.
	var found, fewest int
	err := q.QueryRowContext(ctx, `SELECT count(*), CAST(coalesce(min(users), 0) AS BIGINT) FROM (
		SELECT sum(users) AS users FROM search_grams WHERE prefix = 0 AND gram IN (?`+strings.Repeat(", ?", len(grams)-1)+`) GROUP BY gram) g`,
		grams...).Scan(&found, &fewest)
	if err != nil || found < len(grams) {
		return 0, err
	}
	return fewest, nil
}

// detachable reports whether the count of s, made in q, is to be detached.
func (db *DB) detachable(ctx context.Context, q Querier, s roster.UserSearch) (bool, error) {
	if db.cache == nil || db.detachedCountMin <= 0 || ctx.Value(detachedCtxKey{}) != nil || ctx.Value(inlineCountKey{}) != nil {
		return false, nil
	}
	for _, t := range s.Terms {
		if !utf8.ValidString(t) {
			return false, nil
		}
	}
	db.detached.mu.Lock()
	inline := db.detached.inline[detachKey{query: s.Query, active: activeKey(s.IsActive)}]
	db.detached.mu.Unlock()
	if inline {
		return false, nil
	}
	n, err := db.countBound(ctx, q, s)
	return err == nil && n >= db.detachedCountMin, err
}

// errTooManyCounts is the error of a search whose count would be detached
// while maxDetachedCounts are.
var errTooManyCounts = &roster.Error{Code: roster.EUNAVAILABLE, Message: "Too many searches are being counted; retry shortly.", RetryAfter: 2 * time.Second}

// detach returns the detached count of s, starting it unless one runs, or
// errTooManyCounts.
func (db *DB) detach(s roster.UserSearch) (*countFlight, error) {
	dc := db.detached
	k := detachKey{query: s.Query, active: activeKey(s.IsActive)}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if f, ok := dc.flights[k]; ok {
		return f, nil
	}
	if len(dc.flights) >= maxDetachedCounts {
		return nil, errTooManyCounts
	}
	f := &countFlight{done: make(chan struct{})}
	// Close cancels bgCtx under dc.mu, so a count started here is one
	// that Close waits for.
	if err := db.bgCtx.Err(); err != nil {
		f.err = err
		close(f.done)
		return f, nil
	}
	dc.flights[k] = f
	db.bg.Go(func() {
		var once sync.Once
		db.countDetached(s, func(n SearchCount, err error) {
			once.Do(func() {
				f.n, f.err = n, err
				close(f.done)
			})
		})
		// The flight stays in dc.flights, done, until its count is
		// stored: a search that comes meanwhile reads the cache.
		dc.mu.Lock()
		delete(dc.flights, k)
		dc.mu.Unlock()
	})
	return f, nil
}

// countDetached counts s in a read transaction of its own, once the slot
// is free, and keeps the count in the cache and, when it is large enough,
// in search_counts. ready gets the count as soon as it is made, so that
// the searches waiting for it go on while it is stored.
func (db *DB) countDetached(s roster.UserSearch, ready func(SearchCount, error)) {
	ctx, cancel := context.WithTimeout(db.bgCtx, detachedCountBudget)
	defer cancel()
	select {
	case db.detached.slot <- struct{}{}:
	case <-ctx.Done():
		ready(SearchCount{}, ctx.Err())
		return
	}
	defer func() { <-db.detached.slot }()
	ctx = context.WithValue(context.WithValue(ctx, unboundedKey{}, true), detachedCtxKey{}, true)
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		ready(SearchCount{}, err)
		return
	}
	defer done()
	_, version, err := searchVersion(ctx, tx)
	if err != nil {
		ready(SearchCount{}, err)
		return
	}
	k := detachKey{query: s.Query, active: activeKey(s.IsActive)}
	counted := func(c SearchCount) {
		db.cache.putSearchCount(searchKey{version: version, query: s.Query, active: k.active}, c)
		if c.Total <= SmallSearch {
			dc := db.detached
			dc.mu.Lock()
			if len(dc.inline) >= maxInlineSearches {
				clear(dc.inline)
			}
			dc.inline[k] = true
			dc.mu.Unlock()
		}
		if db.detachedCounted != nil {
			db.detachedCounted()
		}
		ready(c, nil)
	}
	// Not through the cache's flights: a search that waited in one would
	// hold its connection (on PostgreSQL, one of the pool that storing
	// the count needs too); it waits for this count's flight instead.
	c, err := db.countStored(ctx, tx, s, func(ctx context.Context, q Querier) (SearchCount, error) {
		if c, ok, err := db.d.CountSearch(ctx, q, s); ok || err != nil {
			return c, err
		}
		return db.searchCounts(ctx, q, s)
	}, counted)
	ready(c, err) // a stored count, or an error; else ready already ran
}

// searchVersion reads the number of users and the users version
// (counters.users_version, bumped by every change a search can see).
func searchVersion(ctx context.Context, q Querier) (all int, version int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT CAST(coalesce(sum(CASE WHEN name = 'users_version' THEN 0 ELSE value END), 0) AS BIGINT),
		CAST(coalesce(sum(CASE WHEN name = 'users_version' THEN value ELSE 0 END), 0) AS BIGINT)
		FROM counters WHERE name IN ('users_active', 'users_inactive', 'users_version')`).Scan(&all, &version)
	return all, version, err
}
