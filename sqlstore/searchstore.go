package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// Stored search counts.
//
// The exact count of a search for a common term (".exam" in 40% of 10M
// users) walks every match: 2-13 s at 10M users through SQLite's FTS5, and
// 0.5-2.7 s at 1M through PostgreSQL's pg_trgm (BENCHMARKS.md). The
// in-memory cache (searchcache.go) keeps a count for one users version in
// one process, so every restart, every other instance and every user write
// paid it again. search_counts (migration 0100) keeps the counts of such
// searches in the database, and triggers on users keep each row exact: an
// insert, delete or change of a searched field or of isActive adds or takes
// one user from the rows whose terms it matches, in the transaction of the
// change. A row read in the search's own read transaction therefore counts
// that transaction's snapshot exactly, whatever the users version.
//
// A count is stored after it was made, in a write transaction of its own.
// Users that changed between the count's snapshot and that transaction
// are found in user_changes (one row per changed user, by seq) and their
// part of the count is redone: removed as the snapshot saw them, added as
// they are now. From that transaction on the triggers keep the row.
//
// Storing holds the search's read transaction while it waits for the
// committer, and on PostgreSQL reads and writes share one pool, where
// searches waiting for the same count (searchcache.go) hold connections
// too: so one count is stored at a time (a search that finds another
// count being stored leaves its own to storeLater), and the search stops
// waiting after storeSearchWait, which bounds what a full pool can cost
// the committer's other writes. (Storing only while the pool had a free
// connection stored nothing under load: 16 clients keep a pool of 10
// busy.) On PostgreSQL the store's transaction also locks
// users against writers that do not take the store's advisory lock
// (Dialect.LockUsersNoWait), or skips storing if one is writing.

// DefaultStoredSearchMin is the fewest matches whose count is stored: below
// it a count reads few rows (10,000 matches: about 20 ms on SQLite).
const DefaultStoredSearchMin = 10000

// maxStoredSearches bounds search_counts: every user write tests each row.
// A new row past the bound replaces the oldest.
const maxStoredSearches = 256

// maxStoreCatchUp is the most users changed while a count ran that storing
// it redoes; past it the count is not stored (it is made again later).
const maxStoreCatchUp = 10000

// storeSearchWait bounds a search's wait for its count to be stored; past
// it the count is not stored (it is made again later).
const storeSearchWait = time.Second

// SetStoredSearchMin sets the fewest matches whose count is stored in
// search_counts (DefaultStoredSearchMin by default). Tests lower it; call
// it before the store serves searches.
func (db *DB) SetStoredSearchMin(n int) { db.storedSearchMin = n }

// SetSearchCountedHook sets f to run when a count large enough to be
// stored was made (and handed to the searches waiting for it, when it is
// detached) and has its turn to be stored, before it is stored: tests
// write users there, in the window that storing must account for, or hold
// the turn. nil removes it. Call it before the store serves searches.
func (db *DB) SetSearchCountedHook(f func()) { db.searchCounted = f }

// storedKey is the active column of search_counts for an isActive filter.
func storedKey(a *bool) int {
	switch {
	case a == nil:
		return -1
	case *a:
		return 1
	default:
		return 0
	}
}

// storedSearchCount reads the stored counts of s in q, the search's read
// transaction; ok is false when none are stored.
func (db *DB) storedSearchCount(ctx context.Context, q Querier, s roster.UserSearch) (c SearchCount, ok bool, err error) {
	err = q.QueryRowContext(ctx, "SELECT total, prefix FROM search_counts WHERE query = ? AND active = ?",
		s.Query, storedKey(s.IsActive)).Scan(&c.Total, &c.Prefix)
	if errors.Is(err, sql.ErrNoRows) {
		return SearchCount{}, false, nil
	}
	return c, err == nil, err
}

// countStored returns the counts of s: stored ones, or those of count,
// stored when they reach the store's minimum; or, for a count to be
// detached (searchdetach.go), countPending. q is the search's read
// transaction, in whose snapshot count counts. counted, if not nil,
// receives a count as soon as it is made, before it is stored.
func (db *DB) countStored(ctx context.Context, q Querier, s roster.UserSearch, count CountFunc, counted func(SearchCount)) (SearchCount, error) {
	if c, ok, err := db.storedSearchCount(ctx, q, s); ok || err != nil {
		return c, err
	}
	if detach, err := db.detachable(ctx, q, s); err != nil {
		return SearchCount{}, err
	} else if detach {
		f, err := db.detach(s)
		if err != nil {
			return SearchCount{}, err
		}
		return SearchCount{}, &countPending{f: f}
	}
	// Read with the snapshot of the count, so that storing it knows what
	// changed since.
	seq, bulk, err := counterPair(ctx, q, "user_changes_seq", "users_bulk")
	if err != nil {
		return SearchCount{}, err
	}
	c, err := count(ctx, q)
	if err != nil {
		return c, err
	}
	if counted != nil {
		counted(c)
	}
	if c.Total < db.storedSearchMin {
		return c, nil
	}
	db.storeCount(ctx, q, s, c, seq, bulk, ctx.Value(detachedCtxKey{}) != nil)
	return c, nil
}

// SearchCountStats returns what became of the counts that reached the
// store's minimum since the store opened: stored in search_counts; skipped
// because storing could not be done safely or cheaply then (storing took
// more than storeSearchWait, too many users had changed, a seed had run, a
// writer outside the store held users, or, for a count left to storeLater,
// a user changed before its turn), each made again later; and failed with
// a database error. A count left to storeLater is counted when its turn
// comes, or at once as skipped when another count for the same search
// already waits (one of the two is stored at most).
func (db *DB) SearchCountStats() (stored, skipped, failed int64) {
	return db.searchStores[0].Load(), db.searchStores[1].Load(), db.searchStores[2].Load()
}

// storeCount stores c (storeSearchCount), made in q where
// user_changes_seq was seq and users_bulk bulk, when that can be done now, and counts the outcome. Storing is an optimisation: the
// count is exact whether or not it is stored, so no failure here is the
// search's. A detached count (no search holds a transaction while it is
// stored) waits its turn, and for the committer up to detachedStoreWait.
// A search's count that finds another count being stored is stored later
// (storeLater).
func (db *DB) storeCount(ctx context.Context, q Querier, s roster.UserSearch, c SearchCount, seq, bulk int64, detached bool) {
	wait := storeSearchWait
	if detached {
		db.storing.Lock() // a search holds it while it stores its own count
		wait = detachedStoreWait
	} else if !db.storing.TryLock() {
		db.storeLater(s, c, seq, bulk)
		return
	}
	defer db.storing.Unlock()
	db.storeLocked(ctx, q, s, c, seq, bulk, wait)
}

// storeLocked is storeCount's work once it holds db.storing.
func (db *DB) storeLocked(ctx context.Context, q Querier, s roster.UserSearch, c SearchCount, seq, bulk int64, wait time.Duration) {
	outcome := 1 // skipped
	defer func() { db.searchStores[outcome].Add(1) }()
	if db.searchCounted != nil {
		db.searchCounted()
	}
	stored, err := db.storeSearchCount(ctx, q, s, c, seq, bulk, wait)
	switch {
	case stored:
		outcome = 0
	case err != nil && !errors.Is(err, errUsersLocked) && !errors.Is(err, errStoreAbandoned) && !errors.Is(err, context.Canceled) &&
		roster.ErrorCode(err) != roster.EUNAVAILABLE: // not a wait nor an outage
		outcome = 2
	}
}

// storeLater stores c, a search's count made where user_changes_seq was
// seq and users_bulk bulk that found another count being stored, in the
// background: in a read transaction of its own, taken with the detached
// counts' slot (so at most one such transaction is open) once it has its
// turn to store, which counts the same matches when it reads the same
// user_changes_seq (moved by every insert, delete and change of a user
// that a search can see, search_text alone included) and users_bulk
// (moved by seeds, which write with the triggers off). Under 16 clients, 19 of 40 wide
// terms' counts found another being stored and were not kept (roster-bench
// search-wide, PostgreSQL, 1M users, 2026-12-03), so every new process
// and instance made them again. One job waits per search: a count for a
// search that already waits replaces the waiting one when it was made
// after a later change (users_bulk, then user_changes_seq), since the job's
// snapshot, taken later, is likelier to match the newest, and is skipped
// otherwise. At most maxDetachedCounts wait;
// past that, or when a user changed since the count, it is skipped (a
// later search makes it again).
func (db *DB) storeLater(s roster.UserSearch, c SearchCount, seq, bulk int64) {
	dc := db.detached
	k := detachKey{query: s.Query, active: activeKey(s.IsActive)}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if w := dc.toStore[k]; w != nil {
		if bulk > w.bulk || bulk == w.bulk && seq > w.seq { // a copy resets the seq and moves bulk
			*w = laterCount{c: c, seq: seq, bulk: bulk}
		}
		db.searchStores[1].Add(1) // one of the two is not stored
		return
	}
	// Close cancels bgCtx under dc.mu, so a job started here is one that
	// Close waits for.
	if len(dc.toStore) >= maxDetachedCounts || db.bgCtx.Err() != nil {
		db.searchStores[1].Add(1)
		return
	}
	dc.toStore[k] = &laterCount{c: c, seq: seq, bulk: bulk}
	db.bg.Go(func() {
		defer func() {
			dc.mu.Lock()
			delete(dc.toStore, k)
			dc.mu.Unlock()
		}()
		if !db.storeDeferred(s, k) {
			db.searchStores[1].Add(1)
		}
	})
}

// laterCount is a count that waits in storeLater, made where
// user_changes_seq was seq and users_bulk bulk.
type laterCount struct {
	c         SearchCount
	seq, bulk int64
}

// storeDeferred is storeLater's job for the count waiting under k; it
// reports false when it did not get as far as storeLocked, which counts
// its own outcome.
func (db *DB) storeDeferred(s roster.UserSearch, k detachKey) bool {
	ctx, cancel := context.WithTimeout(db.bgCtx, detachedCountBudget)
	defer cancel()
	select {
	case db.detached.slot <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-db.detached.slot }()
	// Its turn first, then its snapshot, so that the snapshot has the
	// counts stored before it. No detached count waits for the turn
	// holding a connection meanwhile: it would hold the slot.
	db.storing.Lock()
	defer db.storing.Unlock()
	ctx = context.WithValue(ctx, unboundedKey{}, true)
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return false
	}
	defer done()
	if _, ok, err := db.storedSearchCount(ctx, tx, s); ok || err != nil {
		return false // stored meanwhile (by another instance, say)
	}
	// Not users_version: it misses a change of search_text alone (a new
	// folding written by a migration or a program).
	seqNow, bulkNow, err := counterPair(ctx, tx, "user_changes_seq", "users_bulk")
	db.detached.mu.Lock()
	w := *db.detached.toStore[k] // the newest count, read after the snapshot's
	db.detached.mu.Unlock()
	if err != nil || seqNow != w.seq || bulkNow != w.bulk {
		return false // the users changed: the count may not count this snapshot
	}
	db.storeLocked(ctx, tx, s, w.c, w.seq, w.bulk, detachedStoreWait)
	return true
}

// errUsersLocked is storeSearchCount's error when a writer outside the
// store holds users (Dialect.LockUsersNoWait).
var errUsersLocked = errors.New("users is being written outside the store")

// searchState is what decides whether a user matches a search.
type searchState struct {
	text   string
	active bool
}

// storeSearchCount stores c, the counts of s in the snapshot of q, where
// user_changes_seq was seq and users_bulk bulk, waiting for the write
// transaction at most within. The users changed since are counted again,
// as q saw them and as they are now.
func (db *DB) storeSearchCount(ctx context.Context, q Querier, s roster.UserSearch, c SearchCount, seq, bulk int64, within time.Duration) (stored bool, err error) {
	key := storedKey(s.IsActive)
	wait, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	// The search waits within in all, not only for the committer
	// to take the request but for its group to run it (another instance,
	// a seed or a migration may hold the write lock). It then abandons the
	// request: fn, which reads q, runs under mu, and finding abandoned set
	// it does nothing; if it ran already, what it wrote is exact whether
	// or not its group commits.
	var mu sync.Mutex
	abandoned := false
	type result struct {
		stored bool
		err    error
	}
	done := make(chan result, 1)
	go func() {
		stored := false
		err := db.tx(wait, func(tx *wtx) error {
			mu.Lock()
			defer mu.Unlock()
			if abandoned {
				return errStoreAbandoned
			}
			var err error
			stored, err = db.storeSearchCountTx(ctx, tx, q, s, c, key, seq, bulk)
			return err
		})
		done <- result{stored && err == nil, err}
	}()
	select {
	case r := <-done:
		return r.stored, r.err
	case <-wait.Done():
		mu.Lock()
		abandoned = true
		mu.Unlock()
		return false, errStoreAbandoned
	}
}

// errStoreAbandoned is storeSearchCount's error when the search stopped
// waiting for its count to be stored.
var errStoreAbandoned = errors.New("storing the count took too long")

// storeSearchCountTx is storeSearchCount's work in the write transaction
// tx; stored is false when it found that the count cannot be stored.
func (db *DB) storeSearchCountTx(ctx context.Context, tx *wtx, q Querier, s roster.UserSearch, c SearchCount, key int, seq, bulk int64) (stored bool, err error) {
	if lock := db.d.LockUsersNoWait(); lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return false, errUsersLocked
		}
	}
	// A writer whose snapshot is older than this transaction (a
	// REPEATABLE READ program on PostgreSQL) would apply its change to
	// search_counts in that snapshot, where this row does not exist.
	// Every write of a user updates this counter row, so such a writer
	// now fails (a serialization failure) instead.
	if _, err := tx.ExecContext(ctx, "UPDATE counters SET value = value WHERE name = 'user_changes_seq'"); err != nil {
		return false, err
	}
	pruned, bulkNow, err := counterPair(ctx, tx, "user_changes_pruned", "users_bulk")
	if err != nil {
		return false, err
	}
	if pruned > seq || bulkNow != bulk {
		return false, nil // changes since the count are no longer all known
	}
	ids, err := QueryIDs(ctx, tx, "SELECT user_id FROM user_changes WHERE seq > ? ORDER BY seq LIMIT ?", seq, maxStoreCatchUp+1)
	if err != nil {
		return false, err
	}
	if len(ids) > maxStoreCatchUp {
		return false, nil
	}
	if len(ids) > 0 {
		before, err := searchStates(ctx, q, ids)
		if err != nil {
			return false, err
		}
		after, err := searchStates(ctx, tx, ids)
		if err != nil {
			return false, err
		}
		for _, id := range ids {
			if st, ok := before[id]; ok {
				total, prefix := st.counts(s.Terms, key)
				c.Total, c.Prefix = c.Total-total, c.Prefix-prefix
			}
			if st, ok := after[id]; ok {
				total, prefix := st.counts(s.Terms, key)
				c.Total, c.Prefix = c.Total+total, c.Prefix+prefix
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM search_counts WHERE id <= (SELECT id FROM search_counts ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		maxStoredSearches-1); err != nil {
		return false, err
	}
	// Another search (or instance) may have stored the same counts in
	// the meantime; the triggers have kept those exact.
	_, err = tx.ExecContext(ctx, `INSERT INTO search_counts (query, active, terms, total, prefix) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (query, active) DO NOTHING`, s.Query, key, strings.Join(s.Terms, "\x1f"), c.Total, c.Prefix)
	return err == nil, err
}

// counterPair reads the counters named a and b in one statement, 0 for
// one that does not exist.
func counterPair(ctx context.Context, q Querier, a, b string) (va, vb int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT CAST(coalesce(sum(CASE WHEN name = ? THEN value ELSE 0 END), 0) AS BIGINT),
		CAST(coalesce(sum(CASE WHEN name = ? THEN value ELSE 0 END), 0) AS BIGINT)
		FROM counters WHERE name IN (?, ?)`, a, b, a, b).Scan(&va, &vb)
	return va, vb, err
}

// QueryIDs runs query, which selects one column of ids, and reads them.
func QueryIDs(ctx context.Context, q Querier, query string, args ...any) ([]int64, error) {
	var ids []int64
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return q.Err(err)
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// searchStates reads the search_text and is_active of the users ids that
// exist in q.
func searchStates(ctx context.Context, q Querier, ids []int64) (map[int64]searchState, error) {
	out := make(map[int64]searchState, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := eachRow(ctx, q, "SELECT id, search_text, is_active FROM users WHERE id IN ("+marks+")", args, func(rows *sql.Rows) error {
			var id int64
			var st searchState
			if err := rows.Scan(&id, &st.text, &st.active); err != nil {
				return q.Err(err)
			}
			out[id] = st
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// counts returns what a user in state st adds to the stored counts of a
// search for terms with active key (storedKey).
func (st searchState) counts(terms []string, key int) (total, prefix int) {
	if key >= 0 && st.active != (key == 1) {
		return 0, 0
	}
	switch SearchRank(st.text, terms) {
	case 2:
		return 1, 1
	case 1:
		return 1, 0
	}
	return 0, 0
}

// SearchRank is 0 when a search_text (the four folded fields joined by
// U+001F) does not contain every term, 1 when it does, and 2 when every
// term also starts one of its fields: the test of the triggers that keep
// search_counts (roster_search_rank in SQL).
func SearchRank(text string, terms []string) int {
	rank := 2
	for _, t := range terms {
		if !strings.Contains(text, t) {
			return 0
		}
		if rank == 2 && !strings.HasPrefix(text, t) && !strings.Contains(text, "\x1f"+t) {
			rank = 1
		}
	}
	return rank
}
