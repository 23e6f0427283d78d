package sqlstore

import (
	"context"
	"errors"
	"sync"
)

// Group commit (Dialect.GroupCommit, for a database whose writes are
// serialized: SQLite's single writer, PostgreSQL's write lock): write
// transactions are funnelled through one committer that runs every request
// waiting at that moment in one transaction, each in its own savepoint, and
// commits them with one fsync. A request is answered only after that
// commit, so nothing is acknowledged before it is durable; a request that
// fails rolls back to its savepoint and leaves the others alone.
//
// On PostgreSQL the group takes the cluster-wide write lock once
// (Dialect.BeginWrite) and holds it for one commit instead of one per
// request: with a transaction per POST /activities, writers queued on that
// lock (wait_event Lock:advisory) while its holder waited for round trips
// and for its WAL fsync. Instances cannot deadlock: every group takes the
// write lock before anything else, as every transaction did before.

// maxGroup bounds how many requests share one transaction. On PostgreSQL
// each request's savepoint that writes is a subtransaction with its own
// xid; a backend caches 64 of them (PGPROC_MAX_CACHED_SUBXIDS), and one
// transaction with more makes every other snapshot look up pg_subtrans.
const maxGroup = 64

type writeReq struct {
	ctx  context.Context
	fn   func(tx *wtx) error
	err  error
	done chan struct{}
}

// committer runs write requests in groups until stop is closed.
type committer struct {
	reqs chan *writeReq
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (db *DB) startCommitter() {
	c := &committer{reqs: make(chan *writeReq), stop: make(chan struct{})}
	db.commits = c
	c.wg.Go(func() {
		for {
			var batch []*writeReq
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			case <-c.stop:
				return
			}
		gather:
			for len(batch) < maxGroup {
				select {
				case r := <-c.reqs:
					batch = append(batch, r)
				default:
					break gather
				}
			}
			db.commitGroup(batch)
		}
	})
}

func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
}

var errStoreClosed = errors.New("sqlstore: the store is closed")

// txGrouped hands fn to the committer and waits for its group's commit.
// The operation timeout bounds the wait until fn starts.
func (db *DB) txGrouped(ctx context.Context, fn func(tx *wtx) error) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case db.commits.reqs <- r:
	case <-ctx.Done():
		return db.mapErr(ctx.Err())
	case <-db.commits.stop:
		return errStoreClosed
	}
	<-r.done // fn may be running: it closes over the caller's state
	return r.err
}

// commitGroup runs a group of requests in one transaction.
func (db *DB) commitGroup(batch []*writeReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	var ctx context.Context
	fail := func(rs []*writeReq, err error) {
		if ctx.Err() != nil {
			// The group's bound cut it: database/sql rolled back the
			// transaction under its statements ("transaction has already
			// been committed or rolled back"), which is a timeout (503).
			err = ctx.Err()
		}
		for _, r := range rs {
			if r.err == nil {
				r.err = db.mapErr(err)
			}
		}
	}
	// One request's cancellation must not end the others' transaction; the
	// operation timeout bounds the group instead (unless a request in it
	// is unbounded, a migration), so that a database that stops answering
	// costs the group 503s instead of a committer that hangs.
	ctx = context.Background()
	bounded := true
	for _, r := range batch {
		bounded = bounded && r.ctx.Value(unboundedKey{}) == nil
	}
	if bounded && db.opTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, db.opTimeout)
		defer cancel()
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		fail(batch, err)
		return
	}
	defer tx.Rollback()
	if err := db.d.BeginWrite(ctx, tx); err != nil {
		fail(batch, err)
		return
	}
	savepoints := len(batch) > 1
	// Where one Exec may carry several statements, a request's RELEASE
	// travels with the next request's SAVEPOINT, and the last one's with
	// COMMIT (which releases it): one round trip a request fewer, made
	// while holding the write lock on PostgreSQL.
	merge := savepoints && db.d.MultiStatement()
	open := false // a savepoint awaits its RELEASE
	var ok []*writeReq
	var last int64
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = db.mapErr(err)
			continue
		}
		if savepoints {
			sp := "SAVEPOINT roster_w"
			if open {
				sp = "RELEASE roster_w; " + sp
			}
			if _, err := tx.ExecContext(ctx, sp); err != nil {
				fail(batch, err)
				return
			}
			open = merge
		}
		// Statements ignore the request's cancellation: interrupting one
		// would roll back the whole shared transaction.
		w := &wtx{conn: conn{raw: tx, db: db, detach: true}}
		if err := r.fn(w); err != nil {
			if ctx.Err() != nil {
				fail(batch, err)
				return
			}
			r.err = db.mapErr(err)
			if !savepoints {
				return
			}
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO roster_w"); err != nil {
				fail(batch, err)
				return
			}
		}
		if savepoints && !merge {
			if _, err := tx.ExecContext(ctx, "RELEASE roster_w"); err != nil {
				fail(batch, err)
				return
			}
		}
		if r.err == nil {
			ok = append(ok, r)
			last = max(last, w.last)
		}
	}
	if len(ok) == 0 {
		return
	}
	if last > 0 {
		if err := db.d.Published(ctx, tx, last); err != nil {
			fail(ok, err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(ok, err)
		return
	}
	if last > 0 {
		db.mu.Lock()
		f := db.onPublish
		db.mu.Unlock()
		if f != nil {
			f(last)
		}
	}
}
