// Package postgres is Roster's production store: the shared SQL of sqlstore
// on PostgreSQL through pgx/v5, with its own embedded migrations, a
// pg_trgm index for search, and LISTEN/NOTIFY to wake the stream brokers of
// every instance.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// notifyChannel carries the id of each committed activity.
const notifyChannel = "roster_activity"

// writeLockKey is the advisory lock every write transaction takes. Writes
// are serialized across all instances, as SQLite serializes them: checks
// such as the last-admin guard hold without SERIALIZABLE retries, and
// activity ids become visible in id order, so a stream that resumed after
// id 11 can never miss a 10 that committed later.
const writeLockKey = 0x526f73746572 // "Roster"

// Options tune the connection pool.
type Options struct {
	// MaxConns bounds the pool (default 10).
	MaxConns int
	// OpTimeout bounds each query and transaction (default 10s), so that a
	// database that stops answering gives 503s instead of hung requests.
	OpTimeout time.Duration
}

// Open connects to url, checks that the server answers and returns a store.
// It does not migrate.
func Open(ctx context.Context, url string, opts Options) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 3 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	n := opts.MaxConns
	if n <= 0 {
		n = 10
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	d := &dialect{cfg: cfg}
	store := sqlstore.New(db, db, d)
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = 10 * time.Second
	}
	store.SetOpTimeout(opts.OpTimeout)
	return store, nil
}

// dialect is PostgreSQL's side of sqlstore.
type dialect struct {
	cfg *pgx.ConnConfig
}

func (d *dialect) Name() string { return "postgres" }

// ReadIsolation is REPEATABLE READ: under READ COMMITTED a row committed
// between a list's count and its page made them disagree ("count 1, 2
// results" in the webhook delivery log test).
func (d *dialect) ReadIsolation() sql.IsolationLevel { return sql.LevelRepeatableRead }

func (d *dialect) Migrations() (embed.FS, string) { return migrations, "migrations" }

// Rebind turns ? placeholders into $1, $2, ...
func (d *dialect) Rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (d *dialect) Time(t time.Time) any { return t.UTC() }

func (d *dialect) Strpos() string { return "strpos" }

func (d *dialect) JSONArrayAgg(keys, exprs []string, order string) string {
	return "coalesce(json_agg(json_build_object(" + sqlstore.JSONPairs(keys, exprs) + ") ORDER BY " + order + "), '[]'::json)"
}

// BeginWrite takes the cluster-wide write lock inside tx.
func (d *dialect) BeginWrite(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(writeLockKey))
	return err
}

// Published notifies every listening instance, at commit, that activities
// up to id exist.
func (d *dialect) Published(ctx context.Context, tx *sql.Tx, id int64) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", notifyChannel, fmt.Sprint(id))
	return err
}

// trgmPunct are the characters roster_trgm_text (migration 0090) maps to
// q for the pg_trgm index: the punctuation of usernames, email addresses
// and names. pg_trgm itself ends a word at each of them.
const trgmPunct = ".@-_+'"

// trgmText is roster_trgm_text (migration 0090) in Go: trgmPunct mapped
// to q. TestSearchTrigramIndex checks that the two agree.
func trgmText(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(trgmPunct, r) {
			return 'q'
		}
		return r
	}, s)
}

// trgmContains returns the condition, served by a pg_trgm GIN index, that
// u.search_text may contain t, and its argument. A term with trgmPunct
// goes through the index of roster_trgm_text(search_text), where "s.mu"
// is "sqmu" and has trigrams to look up. Any other term goes through the
// index of search_text, whose candidates are re-checked by a plain LIKE
// rather than by computing roster_trgm_text for each. Both patterns are
// escaped: a term may hold % or \. Every match satisfies either
// condition; strpos on search_text re-checks each candidate.
func trgmContains(t string) (string, any) {
	if strings.ContainsAny(t, trgmPunct) {
		return `roster_trgm_text(u.search_text) LIKE ? ESCAPE '\'`, "%" + escapeLike(trgmText(t)) + "%"
	}
	return `u.search_text LIKE ? ESCAPE '\'`, "%" + escapeLike(t) + "%"
}

// SearchFrom uses the pg_trgm GIN indexes: a trgmContains condition per
// term of three or more characters (the planner's index path); strpos
// re-checks each term.
func (d *dialect) SearchFrom(terms []string) (string, []string, []any) {
	var where []string
	var args []any
	for _, t := range terms {
		if len([]rune(t)) >= 3 {
			cond, arg := trgmContains(t)
			where = append(where, cond)
			args = append(args, arg)
		}
	}
	return "users u", where, args
}

// SearchUsers leaves every search to sqlstore's portable path: the pg_trgm
// indexes of SearchFrom serve it.
func (d *dialect) SearchUsers(context.Context, sqlstore.Querier, roster.UserSearch, sqlstore.CountCache) ([]*roster.User, int, bool, error) {
	return nil, 0, false, nil
}

// CountSearch leaves every count to sqlstore's portable path too.
func (d *dialect) CountSearch(context.Context, sqlstore.Querier, roster.UserSearch) (sqlstore.SearchCount, bool, error) {
	return sqlstore.SearchCount{}, false, nil
}

// MaxGram: search_grams (migration 0080) counts the grams of up to 3
// characters, so a search for one such term is counted without reading its
// matches. At 200,000 seeded users, with a user write before each search
// (the count cache is per users version), GET /users/search?q=e took
// 0.32-0.89 s and q=an 0.28-0.35 s on the portable path (it counts 1-2
// characters by reading every user), 8-61 ms and 6-85 ms from search_grams
// (2026-12-02, loaded 2-core machine).
func (d *dialect) MaxGram() int { return 3 }

// ShortSearchIndex reads the prefix group of a short term through the GIN
// index of roster_prefixes (migration 0080): at 200,000 users, 1 ms for
// the 90 users with a field starting with "son", against 390 ms for a scan
// in id order and 650 ms through pg_trgm (every user that contains it).
// The rest of a 3-character term is read through a pg_trgm index (the one
// trgmContains picks for it); pg_trgm has no path for 1-2 characters, so
// those are read by the scan in id order, which stops at the page's end: a
// small rest group among many users (a rare letter inside names) is then a
// long scan.
// OFFSET 0 keeps the planner from reading the candidates in id order
// through the primary key instead.
func (d *dialect) ShortSearchIndex(_ context.Context, _ sqlstore.Querier, t string, group sqlstore.ShortGroup) (string, string, []any, error) {
	if group == sqlstore.ShortPrefix {
		return `(SELECT * FROM users WHERE roster_prefixes(search_text) @> ARRAY[?::text] OFFSET 0) u`, "", []any{t}, nil
	}
	if len([]rune(t)) < 3 {
		return "", "", nil, nil
	}
	cond, arg := trgmContains(t)
	return `(SELECT * FROM users u WHERE ` + cond + ` OFFSET 0) u`, "", []any{arg}, nil
}

// GroupCommit is on: the write requests of an instance that wait for
// BeginWrite's lock at the same moment share one transaction, one lock
// acquisition and one WAL flush (sqlstore/groupcommit.go). With a
// transaction per request, POST /activities at 32 clients spent its time
// queued on the lock (wait_event Lock:advisory) behind a holder waiting for
// its round trips and its fsync.
func (d *dialect) GroupCommit() bool { return true }

// MultiStatement is true: pgx sends an Exec without arguments in the
// simple protocol, which runs every statement of the text.
func (d *dialect) MultiStatement() bool { return true }

// likeEscaper is built once: a Replacer per call cost most of SearchFrom's
// time and allocations (BenchmarkSearchFrom).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }

// MapErr maps PostgreSQL errors by SQLSTATE, and lost connections, to
// roster errors.
func (d *dialect) MapErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return &roster.Error{Code: roster.ECONFLICT, Message: "The resource conflicts with an existing one."}
		case pe.Code == "40001", pe.Code == "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%w: %w", &roster.Error{Code: roster.EUNAVAILABLE, Message: "The database is busy; retry."}, err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300": // connection, shutdown, too many connections
			return fmt.Errorf("%w: %w", errUnavailable, err)
		case pe.Code == "57014", pe.Code == "55P03": // query_canceled (statement_timeout, a cancel request), lock_not_available (lock_timeout)
			return fmt.Errorf("%w: %w", errTimedOut, err)
		}
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || errors.Is(err, sql.ErrConnDone) ||
		// A connection cut mid-query: the socket's EOF, or a conn pgx closed.
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return err
}

var (
	errUnavailable = &roster.Error{Code: roster.EUNAVAILABLE, Message: "The database is not available."}
	errTimedOut    = &roster.Error{Code: roster.EUNAVAILABLE, Message: "The database did not answer in time."}
)

// Listen calls wake for every activity committed by any instance until ctx
// ends, reconnecting a second after a lost or refused connection; each
// such failure goes to log (a warning: the broker's poll covers the
// moments without a listener).
func Listen(ctx context.Context, url string, wake func(), log *slog.Logger) {
	for ctx.Err() == nil {
		err := listenOnce(ctx, url, wake)
		if ctx.Err() != nil {
			return
		}
		log.Warn("postgres: activity listener lost; reconnecting in 1s", "error", err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func listenOnce(ctx context.Context, url string, wake func()) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 3 * time.Second // a server that accepts and never answers
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("LISTEN: %w", err)
	}
	wake() // catch up with anything committed while not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		wake()
	}
}

// LockUsersNoWait is a SHARE lock on users: it conflicts with every
// writer's ROW EXCLUSIVE lock, including those of programs that write
// users without the advisory lock, and NOWAIT fails (55P03) instead of
// queueing behind one.
func (d *dialect) LockUsersNoWait() string { return "LOCK TABLE users IN SHARE MODE NOWAIT" }
