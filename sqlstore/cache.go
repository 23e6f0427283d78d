package sqlstore

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// cacheLayer is what the store reuses instead of reading it again:
// FindSession's answers for a short time (sessioncache.go), pages of
// FindUsers and the deep-page checkpoints per users version
// (listcache.go), and search counts per users version (searchcache.go). Every answer it gives is one the database would give
// (each cache says why), so the store behaves the same with it off.
//
// A nil *cacheLayer is the layer switched off (SetCache(false)): it keeps
// nothing and finds nothing.
type cacheLayer struct {
	sessions *sessionCache
	lists    *listCache
	searches *searchCountCache
}

func newCacheLayer(sessionTTL time.Duration) *cacheLayer {
	return &cacheLayer{sessions: newSessionCache(sessionTTL), lists: newListCache(), searches: newSearchCountCache()}
}

// SetCache switches the cache layer on (the default) or off. Call it
// before the store is used.
func (db *DB) SetCache(on bool) {
	switch {
	case on && db.cache == nil:
		db.cache = newCacheLayer(DefaultSessionCacheTTL)
	case !on:
		db.cache = nil
	}
}

func (c *cacheLayer) session(hash []byte, now time.Time) (*roster.Session, bool) {
	if c == nil {
		return nil, false
	}
	return c.sessions.get(hash, now)
}

func (c *cacheLayer) beginSession(now time.Time) (epoch uint64, fetched time.Time) {
	if c == nil {
		return 0, now
	}
	return c.sessions.begin(now)
}

func (c *cacheLayer) putSession(hash []byte, s *roster.Session, expires time.Time, epoch uint64, fetched time.Time) {
	if c != nil {
		c.sessions.put(hash, s, expires, epoch, fetched)
	}
}

// invalidateSessions drops every cached session; call it after a commit
// that may end or change a session.
func (c *cacheLayer) invalidateSessions() {
	if c != nil {
		c.sessions.invalidate()
	}
}

func (c *cacheLayer) page(k listKey) ([]*roster.UserSummary, bool) {
	if c == nil {
		return nil, false
	}
	return c.lists.page(k)
}

func (c *cacheLayer) putPage(k listKey, p []*roster.UserSummary) {
	if c != nil {
		c.lists.putPage(k, p)
	}
}

// checkpoints is listCache.checkpoints; with the layer off there are
// none, and none are built.
func (c *cacheLayer) checkpoints(set listSet) (cps []int64, start bool) {
	if c == nil {
		return nil, false
	}
	return c.lists.checkpoints(set)
}

// searchCounts is searchCountCache.count; with the layer off, count runs
// every time.
func (c *cacheLayer) searchCounts(ctx context.Context, k searchKey, count func() (SearchCount, error)) (SearchCount, error) {
	if c == nil {
		return count()
	}
	return c.searches.count(ctx, k, count)
}

// putSearchCount is searchCountCache.put; with the layer off it does
// nothing.
func (c *cacheLayer) putSearchCount(k searchKey, n SearchCount) {
	if c != nil {
		c.searches.put(k, n)
	}
}
