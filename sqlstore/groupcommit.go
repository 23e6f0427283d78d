package sqlstore

import (
	"context"
	"errors"
	"sync"
)

// Group commit (Dialect.GroupCommit, for a database with a single writer):
// write transactions are funnelled through one committer that runs every
// request waiting at that moment in one transaction, each in its own
// savepoint, and commits them with one fsync. A request is answered only
// after that commit, so nothing is acknowledged before it is durable; a
// request that fails rolls back to its savepoint and leaves the others
// alone.

// maxGroup bounds how many requests share one transaction.
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
	fail := func(rs []*writeReq, err error) {
		for _, r := range rs {
			if r.err == nil {
				r.err = db.mapErr(err)
			}
		}
	}
	ctx := context.Background() // one request's cancellation must not end the others' transaction
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		fail(batch, err)
		return
	}
	defer tx.Rollback()
	savepoints := len(batch) > 1
	var ok []*writeReq
	var last int64
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = db.mapErr(err)
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT roster_w"); err != nil {
				fail(batch, err)
				return
			}
		}
		// Statements ignore the request's cancellation: interrupting one
		// would roll back the whole shared transaction.
		w := &wtx{conn: conn{raw: tx, db: db, detach: true}}
		if err := r.fn(w); err != nil {
			r.err = db.mapErr(err)
			if !savepoints {
				return
			}
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO roster_w"); err != nil {
				fail(batch, err)
				return
			}
		}
		if savepoints {
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
