package sqlstore

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster"
)

// DefaultSessionCacheTTL is how long FindSession reuses what it read for a
// token. Within one process every write that can end or change a session
// (DeleteToken, UpdateUser, DeleteUser) clears the cache when it commits,
// so the TTL only bounds how late this process learns of such a write made
// through another process sharing the database (another `roster serve` on
// PostgreSQL).
const DefaultSessionCacheTTL = time.Second

// maxCachedSessions bounds the cache; when it is full it starts over.
const maxCachedSessions = 100_000

// sessionCache remembers FindSession's answers for a short time: checking
// the token was a sixth of the CPU time of GET /users/{id} at 1M users
// (pprof of cmd/roster-bench).
//
// An entry is used only if no invalidating write has committed since the
// read that made it began: the reader takes the epoch before it queries,
// and invalidate bumps the epoch after the commit, so a read that raced
// the commit is stored under an epoch that is already stale.
type sessionCache struct {
	ttl   atomic.Int64 // time.Duration; 0 turns the cache off
	epoch atomic.Uint64
	mu    sync.RWMutex
	m     map[[32]byte]cachedSession
}

type cachedSession struct {
	tokenID int64
	kind    roster.TokenKind
	scopes  roster.Scopes
	user    roster.User
	expires time.Time // the token's own expiry, checked against the store's clock
	fetched time.Time // when the read began, by the store's clock
	epoch   uint64
}

func newSessionCache(ttl time.Duration) *sessionCache {
	c := &sessionCache{m: map[[32]byte]cachedSession{}}
	c.ttl.Store(int64(ttl))
	return c
}

func cacheKey(hash []byte) ([32]byte, bool) {
	var k [32]byte
	if len(hash) != len(k) {
		return k, false
	}
	copy(k[:], hash)
	return k, true
}

// get returns a copy of the cached session of hash, if it is still good
// at now (the store's clock).
func (c *sessionCache) get(hash []byte, now time.Time) (*roster.Session, bool) {
	ttl := time.Duration(c.ttl.Load())
	k, ok := cacheKey(hash)
	if ttl <= 0 || !ok {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.epoch != c.epoch.Load() || now.Sub(e.fetched) >= ttl || now.Before(e.fetched) || !now.Before(e.expires) {
		return nil, false
	}
	u := e.user // handlers get their own copy
	return &roster.Session{TokenID: e.tokenID, TokenKind: e.kind, Scopes: e.scopes, User: &u}, true
}

// begin returns what put needs to know about a read that begins at now.
func (c *sessionCache) begin(now time.Time) (uint64, time.Time) { return c.epoch.Load(), now }

func (c *sessionCache) put(hash []byte, s *roster.Session, expires time.Time, epoch uint64, fetched time.Time) {
	k, ok := cacheKey(hash)
	if c.ttl.Load() <= 0 || !ok || epoch != c.epoch.Load() {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedSessions {
		c.m = map[[32]byte]cachedSession{}
	}
	c.m[k] = cachedSession{tokenID: s.TokenID, kind: s.TokenKind, scopes: s.Scopes, user: *s.User, expires: expires, fetched: fetched, epoch: epoch}
	c.mu.Unlock()
}

// invalidate drops every entry; call it after a commit that may end or
// change a session.
func (c *sessionCache) invalidate() {
	c.epoch.Add(1)
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
