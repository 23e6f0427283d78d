package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// readGate admits reads to the read pool in the order they arrive.
//
// When more reads want a connection than the pool holds, database/sql
// hands each freed connection to a random waiter (connRequestSet.TakeRandom
// in Go 1.26), so a read's wait is geometric rather than its place in the
// queue: with 32 clients and 4 connections about one wait in a hundred
// outlasts 127 hand-overs. roster-bench search-selective (SQLite, 1M users,
// 32 clients, 2026-12-03) had a p50 of 16 ms and a p99 of 93-101 ms from
// that alone; behind this gate, which lets no more reads at the pool than
// it has connections and wakes them first come, first served, the p99 was
// 51-53 ms at 5% more req/s. (The order is that of the runtime's queue of
// a channel's blocked senders, which wakes them in the order they blocked;
// the language does not promise it, TestReadGateFirstComeFirstServed
// checks it.)
//
// A read holds a slot from before it asks the pool for a connection until
// it has finished with it: a read transaction until done (beginRead), one
// row until it is scanned (conn.QueryRowContext), rows until they are
// closed (eachRow). A nil gate admits everything (a pool without a
// bound).
type readGate struct {
	slots chan struct{}
	// waiting counts the reads waiting for a slot now; waits and waited
	// (nanoseconds) those that had to wait, and for how long in all.
	waiting, waits, waited atomic.Int64
}

// newReadGate returns a gate of n slots; nil when n is not positive.
func newReadGate(n int) *readGate {
	if n <= 0 {
		return nil
	}
	return &readGate{slots: make(chan struct{}, n)}
}

// acquire waits for a slot, in arrival order, or until ctx ends.
func (g *readGate) acquire(ctx context.Context) error {
	if g == nil {
		return nil
	}
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	// Every slot is held, so a release hands one to the first waiter:
	// this one cannot overtake a read that waits already.
	start := time.Now()
	g.waiting.Add(1)
	defer func() {
		g.waiting.Add(-1)
		g.waits.Add(1)
		g.waited.Add(int64(time.Since(start)))
	}()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a slot that acquire took. Giving back a slot that
// nobody holds is a bug that would let one read too many in, so it
// panics.
func (g *readGate) release() {
	if g == nil {
		return
	}
	select {
	case <-g.slots:
	default:
		panic("sqlstore: read gate slot released twice")
	}
}

// held returns the slots held now.
func (g *readGate) held() int {
	if g == nil {
		return 0
	}
	return len(g.slots)
}

// readGateSize is the gate of a read pool of n connections (0: no bound).
// Where reads and writes share the pool (PostgreSQL), the reads are
// admitted to all but one connection, which stays for the writes (the
// group committer's among them) when the pool has more than one: reads
// waiting in the pool would otherwise take freed connections from them at
// random.
func readGateSize(read, write *sql.DB) int {
	n := read.Stats().MaxOpenConnections
	if read == write && n > 1 {
		n--
	}
	return n
}

// ReadSlotsHeld returns the reads holding a slot of the read pool's gate:
// 0 whenever no read runs. Tests check that none is left held.
func (db *DB) ReadSlotsHeld() int { return db.readGate.held() }

// ReadGateStats returns the reads waiting now for a connection of the read
// pool, and how many waited and for how long in all since the store
// opened (the pool's own wait statistics no longer see these waits).
func (db *DB) ReadGateStats() (waiting, waits int64, waited time.Duration) {
	if db.readGate == nil {
		return 0, 0, 0
	}
	return db.readGate.waiting.Load(), db.readGate.waits.Load(), time.Duration(db.readGate.waited.Load())
}

// eachRow runs query on q and hands each row to each, then closes the rows.
// On the read pool it holds a slot of the gate while the rows are read;
// the pool's own QueryContext refuses, since its rows would outlive the
// slot. Callers bound ctx (db.bound) as for any statement on the pool.
func eachRow(ctx context.Context, q Querier, query string, args []any, each func(*sql.Rows) error) error {
	if c, ok := q.(conn); ok && c.gate != nil {
		if err := c.gate.acquire(ctx); err != nil {
			return c.db.mapErr(err)
		}
		defer c.gate.release()
		c.gate = nil
		q = c
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return q.Err(rows.Err())
}
