// Package sqlstore holds Roster's storage logic as SQL over database/sql,
// shared by the SQLite and PostgreSQL stores. Each of those supplies a
// Dialect: placeholders, time encoding, the search index, error codes and
// how writes are serialized. Everything else (queries, the visibility rule,
// the last-admin guard, system activities in the same transaction as their
// change) is written once here, so both stores behave identically.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster"
)

// Dialect is what differs between databases.
type Dialect interface {
	Name() string
	// Migrations returns the embedded migration files and their folder;
	// files are named NNNN_name.sql and applied in order.
	Migrations() (embed.FS, string)
	// ReadIsolation is the isolation of the read transactions that pair a
	// count with its page, so that both see one snapshot (SQLite's WAL
	// read transactions already do; PostgreSQL needs REPEATABLE READ).
	ReadIsolation() sql.IsolationLevel
	// Rebind rewrites ? placeholders for the database.
	Rebind(query string) string
	// Time encodes a time for a query argument.
	Time(t time.Time) any
	// Strpos names the function strpos(haystack, needle) (SQLite: instr).
	Strpos() string
	// JSONArrayAgg returns an aggregate expression that collects one JSON
	// object per row, with the given keys and value expressions, into a
	// JSON array sorted by order; over no rows it gives [].
	JSONArrayAgg(keys, exprs []string, order string) string
	// BeginWrite runs first in every write transaction: the PostgreSQL store
	// takes a cluster-wide advisory lock there, so that writes (and activity
	// ids) are serialized as they are on SQLite's single writer.
	BeginWrite(ctx context.Context, tx *sql.Tx) error
	// Published runs in a write transaction that inserted activities, with
	// the largest id (PostgreSQL notifies the other instances).
	Published(ctx context.Context, tx *sql.Tx, lastID int64) error
	// SearchFrom returns the FROM clause, extra conditions and arguments
	// that narrow a search to candidates through the database's index.
	SearchFrom(terms []string) (from string, where []string, args []any)
	// SearchUsers answers s from an index of the database's own when it
	// has a faster path for s than the portable search; ok false leaves s
	// to the portable search. q is a read transaction; counts keeps the
	// search's counts per users version, for a dialect whose counts cost
	// more than a lookup.
	SearchUsers(ctx context.Context, q Querier, s roster.UserSearch, counts CountCache) (users []*roster.User, total int, ok bool, err error)
	// CountSearch counts the matches of s in q the way SearchUsers does
	// when it answers s; ok false leaves the count to the portable path.
	// A detached count (searchdetach.go) calls it.
	CountSearch(ctx context.Context, q Querier, s roster.UserSearch) (c SearchCount, ok bool, err error)
	// MaxGram is the longest term that the database's search_grams table
	// counts (searchshort.go): a search for one term that short is
	// answered from it; 0 leaves every search to the portable path.
	MaxGram() int
	// ShortSearchIndex returns the FROM clause (users as u), an extra
	// condition ("" for none) and their arguments that narrow group of a
	// search for the one term t (at most MaxGram characters) to candidates
	// through the database's indexes, read whole and sorted; from "" when
	// it has no such path, and the group is read by a scan in id order.
	// q is the search's read transaction.
	ShortSearchIndex(ctx context.Context, q Querier, t string, group ShortGroup) (from, where string, args []any, err error)
	// GroupCommit reports whether write transactions go through one
	// committer that commits every request waiting at that moment in one
	// transaction (groupcommit.go): for databases whose writes are
	// serialized (SQLite's single writer, PostgreSQL's write lock).
	GroupCommit() bool
	// MultiStatement reports whether an Exec without arguments runs
	// several statements separated by semicolons in one round trip.
	MultiStatement() bool
	// BeginBulk runs first in Seed's transaction and returns the function
	// that, before commit, restores what it set aside (secondary indexes,
	// triggers) and everything the triggers maintain.
	BeginBulk(ctx context.Context, tx *sql.Tx) (finish func(ctx context.Context, tx *sql.Tx) error, err error)
	// BulkInsert is the opening words of Seed's inserts, "INSERT INTO" or
	// a variant that needs no per-statement undo journal.
	BulkInsert() string
	// AfterBulk runs after Seed's commit, outside any transaction
	// (statistics, visibility maps).
	AfterBulk(ctx context.Context, db *sql.DB) error
	// MapErr maps driver errors to roster errors by their codes.
	MapErr(err error) error
	// LockUsersNoWait returns the statement that, run first in a write
	// transaction, keeps every other transaction from writing users until
	// commit, and fails at once if one holds uncommitted writes to it; ""
	// where the store's write transactions already exclude every other
	// writer (SQLite). Storing a search count runs it (searchstore.go), so
	// that a program that writes users without BeginWrite's lock cannot
	// change a user unseen between the count's catch-up and its row.
	LockUsersNoWait() string
	// SkipLocked returns the clause that locks the rows a SELECT returns
	// from table and skips rows other transactions hold, so that instances
	// lease queued jobs (webhook deliveries) without waiting on each other
	// or on the write lock; "" where write transactions are exclusive
	// anyway (SQLite), and leases are then taken in one.
	SkipLocked(table string) string
}

// DB is a Roster store on a SQL database.
type DB struct {
	write    *sql.DB
	readPool *sql.DB
	read     conn // readPool with rebinding, error mapping and readGate
	// readGate admits reads to readPool first come, first served.
	readGate *readGate
	d        Dialect

	// clock tells the time of every write, expiry and lockout.
	clock roster.Clock

	mu        sync.Mutex
	onPublish func(lastID int64)

	// opTimeout bounds each query and transaction (0: no bound).
	opTimeout time.Duration
	// commits runs write transactions in groups (Dialect.GroupCommit).
	commits *committer
	// writes counts the write transactions running or waiting to run.
	writes atomic.Int64
	// cache is the cache layer (cache.go); nil when switched off.
	cache *cacheLayer
	// storedSearchMin is the fewest matches whose count is stored in
	// search_counts (searchstore.go).
	storedSearchMin int
	// searchCounted runs when a count has its turn to be stored (tests).
	searchCounted func()
	// storing is held while a count is stored (searchstore.go).
	storing sync.Mutex
	// searchStores counts stored, skipped and failed counts.
	searchStores [3]atomic.Int64
	// detachedCountMin is the fewest users a count walks for it to be
	// detached; detached runs those counts (searchdetach.go).
	detachedCountMin int
	detached         *detachedCounts
	// detachedCounted runs after each detached count (tests).
	detachedCounted func()
	// userSQL reads a user with its groups (userWithGroupsSQL).
	userSQL string
	// profileSQL reads a user as a viewer may see it (profileSQL).
	profileSQL string
	// tokenUses holds token uses not yet written (see FlushTokenUses);
	// flusher runs flushTokenUsesLoop.
	tokenUses *tokenUses
	flusher   sync.WaitGroup

	// bgCtx ends, and bg is waited for, when the store closes.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup

	// observer receives each statement's duration (SetQueryObserver).
	observer atomic.Pointer[func(exec bool, d time.Duration)]
}

// SetQueryObserver sets f to receive the duration of every statement the
// store runs (exec: it changed rows, rather than read them), for the query
// latency metric. A read's duration ends when the driver hands back its
// rows (reading them comes after). nil removes it.
func (db *DB) SetQueryObserver(f func(exec bool, d time.Duration)) {
	if f == nil {
		db.observer.Store(nil)
		return
	}
	db.observer.Store(&f)
}

func (db *DB) observe(exec bool, start time.Time) {
	if f := db.observer.Load(); f != nil {
		(*f)(exec, time.Since(start))
	}
}

// WaitBackground waits for the store's background work (building
// deep-page checkpoints, detached search counts) started so far; tests
// use it.
func (db *DB) WaitBackground() { db.bg.Wait() }

// background runs fn in a goroutine that Close cancels and waits for.
func (db *DB) background(fn func(ctx context.Context)) {
	db.bg.Go(func() { fn(db.bgCtx) })
}

// New returns a store on write (the connection(s) used for writes) and read.
func New(write, read *sql.DB, d Dialect) *DB {
	db := &DB{write: write, readPool: read, d: d, clock: roster.SystemClock{},
		cache: newCacheLayer(DefaultSessionCacheTTL), storedSearchMin: DefaultStoredSearchMin,
		detachedCountMin: DefaultDetachedCountMin, detached: newDetachedCounts(), userSQL: userWithGroupsSQL(d), profileSQL: profileSQL(d), tokenUses: newTokenUses()}
	db.bgCtx, db.bgCancel = context.WithCancel(context.Background())
	db.readGate = newReadGate(readGateSize(read, write))
	db.read = conn{raw: read, db: db, gate: db.readGate}
	if d.GroupCommit() {
		db.startCommitter()
	}
	db.flusher.Go(func() { db.flushTokenUsesLoop(db.bgCtx) })
	return db
}

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.d }

// SetClock sets the store's clock (the wall clock by default). The
// program gives the store and the HTTP server the same clock; call it
// before the store is used.
func (db *DB) SetClock(c roster.Clock) { db.clock = c }

// Clock returns the store's clock, so that the server can share it.
func (db *DB) Clock() roster.Clock { return db.clock }

// Now returns the time by the store's clock.
func (db *DB) Now() time.Time { return db.clock.Now() }

// SetOpTimeout bounds every query and transaction of the store (except
// migrations and seeding) to d, so that a database that stops answering
// costs a request a 503 after d instead of a hang. With group commit it
// bounds a write's wait for the committer, and each group's transaction
// as a whole rather than its statements one by one. 0 (the default of
// sqlite.Open) removes the bound.
func (db *DB) SetOpTimeout(d time.Duration) { db.opTimeout = d }

type unboundedKey struct{}

// bound returns ctx limited to the store's operation timeout.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.opTimeout <= 0 || ctx.Value(unboundedKey{}) != nil {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.opTimeout)
}

// OnPublish sets the function called after each commit that made activities
// visible, with the largest new activity id (the stream broker's Notify).
func (db *DB) OnPublish(f func(lastID int64)) {
	db.mu.Lock()
	db.onPublish = f
	db.mu.Unlock()
}

// Close writes the token uses not yet written, stops the committer, if
// any, and closes the pools. It may be called more than once.
func (db *DB) Close() error {
	db.detached.mu.Lock() // no detached count starts after this (detach)
	db.bgCancel()
	db.detached.mu.Unlock()
	db.bg.Wait()
	db.flusher.Wait()
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = db.FlushTokenUses(flushCtx) // best effort: the pools may already be gone on a second Close
	cancel()
	if db.commits != nil {
		db.commits.once.Do(db.commits.close)
	}
	if db.readPool == db.write {
		return db.write.Close()
	}
	return errors.Join(db.readPool.Close(), db.write.Close())
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.mapErr(db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

// WriteDB and ReadDB expose the pools to the dialect packages (bulk loads,
// pragmas); the rest of the program goes through the service methods.
func (db *DB) WriteDB() *sql.DB { return db.write }

// ReadDB returns the read pool.
func (db *DB) ReadDB() *sql.DB { return db.readPool }

// q rebinds a query for the dialect (a linear scan; queries are built
// with varying IN lists and search terms, so they are not cached).
func (db *DB) q(query string) string { return db.d.Rebind(query) }

// Migrate applies every embedded migration the database has not seen, each
// in its own write transaction, and records its version.
func (db *DB) Migrate(ctx context.Context) error {
	ctx = context.WithValue(ctx, unboundedKey{}, true) // a migration may take long
	// Inside a write transaction: on PostgreSQL its lock keeps instances
	// that start together from creating the table twice.
	if err := db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
		return err
	}); err != nil {
		return fmt.Errorf("%s: migrations table: %w", db.d.Name(), err)
	}
	files, dir := db.d.Migrations()
	names, err := fs.Glob(files, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, dir+"/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("%s: migration %s: bad version", db.d.Name(), base)
		}
		err = db.tx(ctx, func(tx *wtx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", v).Scan(&n); err != nil || n > 0 {
				return err
			}
			body, err := files.ReadFile(name)
			if err != nil {
				return err
			}
			// Raw: migration bodies are not rebound.
			if _, err := tx.raw.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				v, base, db.Now().Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: migration %s: %w", db.d.Name(), base, err)
		}
	}
	if err := db.BackfillSkeletons(ctx); err != nil {
		return fmt.Errorf("%s: username skeletons: %w", db.d.Name(), err)
	}
	return nil
}

// WritesInFlight is how many write transactions are running or waiting for
// the writer, not counting the webhook queue's own (background): how busy
// the API's write path is. The webhook deliverer yields when it is high.
func (db *DB) WritesInFlight() int { return int(db.writes.Load()) }

// backgroundKey marks a context whose writes WritesInFlight does not count.
type backgroundKey struct{}

// background marks ctx as background work's.
func background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// tx runs fn in a write transaction; lastID, when fn sets it, is the largest
// activity id the transaction inserted, announced after commit.
// Activities inserted through the transaction (wtx.insertActivity) are
// announced after commit: in the transaction to the dialect (PostgreSQL
// notifies other instances), after it to the OnPublish subscriber.
func (db *DB) tx(ctx context.Context, fn func(tx *wtx) error) error {
	return db.txPost(ctx, fn, nil)
}

// txPost is tx for fn that inserts only the activity post (and reads what
// it returns): with group commit, the posts of a group are inserted in one
// statement (postActivities), and fn runs only if that cannot be done.
func (db *DB) txPost(ctx context.Context, fn func(tx *wtx) error, post *roster.Activity) error {
	if ctx.Value(backgroundKey{}) == nil {
		db.writes.Add(1)
		defer db.writes.Add(-1)
	}
	if db.commits != nil {
		return db.txGrouped(ctx, fn, post)
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.mapErr(err)
	}
	defer tx.Rollback()
	if err := db.d.BeginWrite(ctx, tx); err != nil {
		return db.mapErr(err)
	}
	w := &wtx{conn: conn{raw: tx, db: db, txCtx: ctx}}
	if err := fn(w); err != nil {
		return db.mapErr(err)
	}
	if w.last > 0 {
		if err := db.d.Published(ctx, tx, w.last); err != nil {
			return db.mapErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return db.mapErr(err)
	}
	if w.last > 0 {
		db.mu.Lock()
		f := db.onPublish
		db.mu.Unlock()
		if f != nil {
			f(w.last)
		}
	}
	return nil
}

// wtx is a write transaction; it remembers the activities it inserted.
type wtx struct {
	conn
	last int64
}

// beginRead starts a read-only transaction, so that a count and a page
// agree; call done when finished.
func (db *DB) beginRead(ctx context.Context) (Querier, func(), error) {
	ctx, cancel := db.bound(ctx)
	if err := db.readGate.acquire(ctx); err != nil {
		cancel()
		return nil, nil, db.mapErr(err)
	}
	tx, err := db.readPool.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: db.d.ReadIsolation()})
	if err != nil {
		db.readGate.release()
		cancel()
		return nil, nil, db.mapErr(err)
	}
	return conn{raw: tx, db: db, txCtx: ctx}, func() { _ = tx.Rollback(); db.readGate.release(); cancel() }, nil
}

// Querier runs queries written with ? placeholders: conn rebinds them for
// the dialect and maps driver errors.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) Scanner
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	// Err maps an error met while reading the rows of QueryContext.
	Err(err error) error
}

// Scanner is a row to scan.
type Scanner interface{ Scan(dest ...any) error }

type rawQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// conn bounds QueryRowContext and ExecContext by the operation timeout.
// On the read pool it holds a slot of the read gate for each statement,
// and QueryContext refuses (its rows outlive the call): rows are read with
// eachRow, whose callers bound their ctx themselves with db.bound.
type conn struct {
	raw rawQuerier
	db  *DB
	// detach makes statements ignore cancellation (grouped transactions).
	detach bool
	// txCtx, in a read transaction, is the transaction's context, bounded
	// by the operation timeout: its statements run under it. Under the
	// caller's context, a statement outlived the transaction that the
	// timeout rolled back under it, and failed with "transaction has
	// already been committed or rolled back" or "Rows are closed" (500s
	// instead of 503s, TestTimeoutIsUnavailable).
	txCtx context.Context
	// gate, on the read pool, is the store's readGate.
	gate *readGate
}

// ctx is the context of a statement called with ctx.
func (c conn) ctx(ctx context.Context) context.Context {
	switch {
	case c.detach:
		return context.WithoutCancel(ctx)
	case c.txCtx != nil:
		return c.txCtx
	}
	return ctx
}

// Err maps an error met while reading rows (rows.Next, Scan, rows.Err) as
// the statements' own errors are mapped.
func (c conn) Err(err error) error { return c.db.mapErr(err) }

// errPoolRows is returned by QueryContext on the read pool, whose rows
// would outlive the read gate's slot: read them with eachRow.
var errPoolRows = errors.New("sqlstore: rows of the read pool are read with eachRow")

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.gate != nil {
		return nil, errPoolRows
	}
	start := time.Now()
	rows, err := c.raw.QueryContext(c.ctx(ctx), c.db.q(query), args...)
	c.db.observe(false, start)
	return rows, c.db.mapErr(err)
}

// stmtCtx is the context of one statement: bounded by the operation
// timeout, or, in a grouped transaction, neither cancelled nor bounded
// (interrupting a statement would roll back every request of the group;
// the request's bound applies to its wait for the committer instead).
func (c conn) stmtCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.detach || c.txCtx != nil {
		return c.ctx(ctx), func() {}
	}
	return c.db.bound(ctx)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) Scanner {
	ctx, cancel := c.stmtCtx(ctx)
	if err := c.gate.acquire(ctx); err != nil {
		cancel()
		return mappedRow{db: c.db, cancel: func() {}, err: err}
	}
	if c.gate != nil {
		stop := cancel
		cancel = func() { stop(); c.gate.release() }
	}
	start := time.Now()
	row := c.raw.QueryRowContext(ctx, c.db.q(query), args...)
	c.db.observe(false, start)
	return mappedRow{r: row, db: c.db, cancel: cancel}
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := c.stmtCtx(ctx)
	defer cancel()
	start := time.Now()
	res, err := c.raw.ExecContext(ctx, c.db.q(query), args...)
	c.db.observe(true, start)
	return res, c.db.mapErr(err)
}

// mappedRow is a row of QueryRowContext: scanning it (which its callers
// always do) ends its statement's context and gives back its read gate
// slot.
type mappedRow struct {
	r      *sql.Row
	db     *DB
	cancel context.CancelFunc
	err    error // no slot of the read gate came in time
}

func (m mappedRow) Scan(dest ...any) error {
	defer m.cancel()
	if m.err != nil {
		return m.db.mapErr(m.err)
	}
	return m.db.mapErr(m.r.Scan(dest...))
}

// t encodes a time as the dialect stores it.
func (db *DB) t(t time.Time) any { return db.d.Time(t) }

func (db *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	var re *roster.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", &roster.Error{Code: roster.EUNAVAILABLE, Message: "The database did not answer in time."}, err)
	}
	return db.d.MapErr(err)
}

// dbTime scans a time stored as Unix microseconds (SQLite) or as a
// timestamp (PostgreSQL).
type dbTime struct {
	t     time.Time
	valid bool
}

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.valid = false
	case int64:
		d.t, d.valid = time.UnixMicro(x).UTC(), true
	case time.Time:
		d.t, d.valid = x.UTC(), true
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as a time", v)
	}
	return nil
}

func (d dbTime) ptr() *time.Time {
	if !d.valid {
		return nil
	}
	t := d.t
	return &t
}

// JSONPairs joins keys and value expressions as 'key1', expr1, 'key2', ...
// for the JSON object constructors of dialects' JSONArrayAgg.
func JSONPairs(keys, exprs []string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + k + "', " + exprs[i])
	}
	return b.String()
}
