package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/rosterhq/roster"
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
	ctx context.Context
	fn  func(tx *wtx) error
	// post, when set, is the activity fn inserts (CreateActivity): the
	// group inserts its posts in one statement (postActivities) and runs
	// fn only where that statement cannot stand for it.
	post   *roster.Activity
	posted bool
	err    error
	done   chan struct{}
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

// txGrouped hands fn (and post, if any) to the committer and waits for
// its group's commit. The operation timeout bounds the wait until fn
// starts.
func (db *DB) txGrouped(ctx context.Context, fn func(tx *wtx) error, post *roster.Activity) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	r := &writeReq{ctx: ctx, fn: fn, post: post, done: make(chan struct{})}
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
	var posts []*writeReq
	for _, r := range batch {
		if r.post != nil && r.ctx.Err() == nil {
			posts = append(posts, r)
		}
	}
	if len(posts) > 1 { // so savepoints too
		done, err := db.postActivities(ctx, tx, posts, open)
		if err != nil || ctx.Err() != nil {
			fail(batch, err)
			return
		}
		if done {
			for _, r := range posts {
				ok = append(ok, r)
				last = max(last, r.post.ID)
			}
			if !merge {
				if _, err := tx.ExecContext(ctx, "RELEASE roster_w"); err != nil {
					fail(batch, err)
					return
				}
			}
		}
		open = merge
	}
	for _, r := range batch {
		if r.posted {
			continue
		}
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

// postActivities inserts the activities of a group's posts (CreateActivity)
// in one statement inside savepoint roster_w (after releasing the open one,
// if open), and reads back each one's id, actor's username and workspace's
// name: per post, a SAVEPOINT and an INSERT were two round trips made in
// turn while the group held PostgreSQL's write lock. If an actor or a
// workspace is missing, or the statement fails, it rolls back to the
// savepoint and returns false: each post then runs its own fn, which
// reports its error. Ids follow the order of posts.
func (db *DB) postActivities(ctx context.Context, tx *sql.Tx, posts []*writeReq, open bool) (bool, error) {
	sp := "SAVEPOINT roster_w"
	if open {
		sp = "RELEASE roster_w; " + sp
	}
	if _, err := tx.ExecContext(ctx, sp); err != nil {
		return false, err
	}
	w := &wtx{conn: conn{raw: tx, db: db, detach: true}}
	args := make([]any, 0, 8*len(posts))
	for _, r := range posts {
		args = append(args, w.activityArgs(r.post)...)
	}
	type row struct {
		id       int64
		username sql.NullString
		wsName   sql.NullString
	}
	var got []row
	rows, err := w.QueryContext(ctx, `INSERT INTO activities (actor_id, verb, object_type, object_id, object_name, workspace_id, data, published)
		VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", len(posts)), ", ")+`
		RETURNING id, (SELECT u.username FROM users u WHERE u.id = activities.actor_id),
			(SELECT ws.name FROM workspaces ws WHERE ws.id = activities.workspace_id)`, args...)
	if err == nil {
		for rows.Next() {
			var g row
			if err = rows.Scan(&g.id, &g.username, &g.wsName); err != nil {
				break
			}
			got = append(got, g)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	valid := err == nil && len(got) == len(posts)
	if valid {
		slices.SortFunc(got, func(a, b row) int { return cmp.Compare(a.id, b.id) }) // allocated in VALUES order
		for i, r := range posts {
			valid = valid && got[i].username.Valid && (r.post.WorkspaceID == nil || got[i].wsName.Valid)
		}
	}
	if !valid {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO roster_w"); err != nil {
			return false, err
		}
		return false, nil
	}
	for i, r := range posts {
		a := r.post
		a.ID = got[i].id
		a.ActorUsername = &got[i].username.String
		if a.WorkspaceID != nil {
			a.WorkspaceName = got[i].wsName.String
		}
		r.posted = true
	}
	return true, nil
}
