package sqlstore

import (
	"context"
	"sync"
)

// maxCachedSearches bounds the search count cache; when it is full it
// starts over.
const maxCachedSearches = 4096

// searchKey identifies the matches of a search at one moment: the users
// version (counters.users_version, bumped on every insert, delete and
// change of a searched field or of isActive), the folded query and the
// isActive filter. Two reads with the same key count the same matches.
type searchKey struct {
	version int64
	query   string
	active  int8 // activeKey
}

// SearchCount is what a search counts: its matches, and those where every
// term starts a field (exact matches included).
type SearchCount struct {
	Total  int
	Prefix int
}

// CountCache returns the counts of the search it was made for, from a
// cache kept per users version, from search_counts or, once for that
// version, from count (Dialect.SearchUsers), which it calls with the
// search's transaction. A count that would walk many users runs detached
// instead (searchdetach.go), and the search then ends with an error of its
// own, to be started again.
type CountCache func(count CountFunc) (SearchCount, error)

// CountFunc counts a search's matches in q.
type CountFunc func(ctx context.Context, q Querier) (SearchCount, error)

// searchCountCache keeps the counts of searches of the current users
// version. Counting a term found in 20% of 1M users read every match
// (0.5 s on SQLite, more on PostgreSQL); a search box sends the same
// common prefixes again and again, and the envelope's count must stay
// exact, which a count of the same version is.
//
// One search at a time counts a key: the others wait for its answer. 32
// clients sending the same common term each counted every match at once,
// and none finished within the operation timeout (roster-bench
// search-prefixes at 1M users on SQLite, 2026-12-02).
type searchCountCache struct {
	mu      sync.Mutex
	counts  map[searchKey]SearchCount
	flights map[searchKey]*countFlight
}

// countFlight is a count in progress; done closes when n and err are set.
type countFlight struct {
	done chan struct{}
	n    SearchCount
	err  error
}

func newSearchCountCache() *searchCountCache {
	return &searchCountCache{counts: map[searchKey]SearchCount{}, flights: map[searchKey]*countFlight{}}
}

// count returns the counts of k, from the cache, from the count another
// search is running for k, or from count, which it then keeps. A waiter
// whose leader failed (its request ended, say) counts for itself.
func (c *searchCountCache) count(ctx context.Context, k searchKey, count func() (SearchCount, error)) (SearchCount, error) {
	c.mu.Lock()
	if n, ok := c.counts[k]; ok {
		c.mu.Unlock()
		return n, nil
	}
	if f, ok := c.flights[k]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err == nil {
				return f.n, nil
			}
			return count()
		case <-ctx.Done():
			return SearchCount{}, ctx.Err()
		}
	}
	f := &countFlight{done: make(chan struct{})}
	c.flights[k] = f
	c.mu.Unlock()
	f.n, f.err = count()
	c.mu.Lock()
	delete(c.flights, k)
	if f.err == nil {
		c.putLocked(k, f.n)
	}
	c.mu.Unlock()
	close(f.done)
	return f.n, f.err
}

// put keeps n as the counts of k.
func (c *searchCountCache) put(k searchKey, n SearchCount) {
	c.mu.Lock()
	c.putLocked(k, n)
	c.mu.Unlock()
}

func (c *searchCountCache) putLocked(k searchKey, n SearchCount) {
	if len(c.counts) >= maxCachedSearches {
		clear(c.counts)
	}
	for old := range c.counts { // only the newest version is worth keeping
		if old.version < k.version {
			delete(c.counts, old)
		}
	}
	c.counts[k] = n
}
