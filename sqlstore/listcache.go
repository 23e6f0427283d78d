package sqlstore

import (
	"sync"

	"github.com/rosterhq/roster"
)

// checkpointStep is how many users lie between two sampled ids of a deep
// page checkpoint list: a deep page skips at most this many index entries.
const checkpointStep = 1024

// maxCachedPages bounds the page cache; when it is full it starts over.
const maxCachedPages = 1024

// listSet identifies the users a list draws from, at one moment: the
// users version (counters.users_version, bumped by triggers on every
// insert, delete and change of a summary field), the filter's total, and
// the isActive and isService filters. Two reads with the same listSet see the same users
// with the same summaries, whichever process wrote them, so what was read
// under it can be reused.
type listSet struct {
	version int64
	total   int
	active  int8 // 0 all, 1 active, 2 inactive
	service int8 // 0 all, 1 service accounts, 2 people
}

// activeKey encodes an optional boolean filter: 0 unset, 1 true, 2 false.
func activeKey(a *bool) int8 {
	switch {
	case a == nil:
		return 0
	case *a:
		return 1
	default:
		return 2
	}
}

type listKey struct {
	listSet
	order         string
	offset, limit int
}

// listCache keeps pages of GET /users and the deep-page checkpoints of the
// current users version. A page of 50 users read and scanned per request
// was half the CPU time of GET /users at 1M users (pprof of
// cmd/roster-bench); a deep page stepped over up to a million index
// entries.
type listCache struct {
	mu    sync.Mutex
	pages map[listKey][]*roster.UserSummary
	cps   map[listSet][]int64
	// building is set while a checkpoint build runs: one at a time, so
	// that a stream of writes, each a new version, cannot start a scan of
	// every id per version.
	building bool
}

func newListCache() *listCache {
	return &listCache{pages: map[listKey][]*roster.UserSummary{}, cps: map[listSet][]int64{}}
}

func (c *listCache) page(k listKey) ([]*roster.UserSummary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[k]
	return p, ok
}

func (c *listCache) putPage(k listKey, p []*roster.UserSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pages) >= maxCachedPages {
		clear(c.pages)
	}
	for old := range c.pages { // only the newest version is worth keeping
		if old.version < k.version {
			delete(c.pages, old)
		}
	}
	c.pages[k] = p
}

// checkpoints returns the checkpoints of set, or nil while they are not
// built; then start tells the caller to build them, unless a build is
// already running. The builder calls doneBuilding.
func (c *listCache) checkpoints(set listSet) (cps []int64, start bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cps, ok := c.cps[set]; ok {
		return cps, false
	}
	if c.building {
		return nil, false
	}
	c.building = true
	return nil, true
}

func (c *listCache) doneBuilding() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.building = false
}

func (c *listCache) putCheckpoints(set listSet, cps []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for old := range c.cps {
		if old.version < set.version || (old.active == set.active && old.service == set.service) {
			delete(c.cps, old)
		}
	}
	c.cps[set] = cps
}
