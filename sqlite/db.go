// Package sqlite is Roster's embedded store: sqlstore's SQL on one SQLite
// file in WAL mode, with one writer connection (writers queue in Go instead
// of failing with "database is locked"), a pool of readers, and an FTS5
// trigram index for search.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the store type: the shared SQL store on SQLite.
type DB = sqlstore.DB

// Open opens (creating if needed) the database file at path. It does not migrate.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, allSpeedups)
}

func open(ctx context.Context, path string, sp speedups) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty path")
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	write := openDB(dsn(path, false), sp)
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// journal_mode=WAL persists in the file; set it once on the writer.
	if _, err := write.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: enable WAL on %s: %w", path, err)
	}
	read := openDB(dsn(path, true), sp)
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return sqlstore.New(write, read, dialect{sp: sp}), nil
}

// createPrivate creates the database file readable by its owner only (it
// holds password hashes) when it does not exist yet; SQLite gives its -wal
// and -shm files the same mode. An existing file keeps its mode.
func createPrivate(path string) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return err
	}
	return f.Close()
}

// dsn builds a modernc.org/sqlite connection string. Every pooled connection
// gets the same pragmas: a busy timeout (other processes, such as the CLI,
// may hold the write lock briefly), foreign keys, and synchronous=FULL so that
// an acknowledged write survives a power loss as well as a crash.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "temp_store(memory)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		// Readers map the file instead of copying each page in with a
		// pread(2) (9% of the CPU time of GET /users/{id} at 1M users,
		// pprof of cmd/roster-bench), up to SQLite's 2 GiB limit
		// (SQLITE_MAX_MMAP_SIZE, fixed when the driver is built). Writes
		// still go through write(2).
		q.Add("_pragma", "mmap_size(2147418112)")
		// Pages past that limit (most of a 10M-user file of 10.8 GB) are
		// read into each reader's page cache. A small one is cheaper: with
		// 1-8 MB rather than 32 MB per reader, roster-bench at 10M users (32
		// clients, 2026-12-03) spent 261-302 µs of CPU per GET /users/{id}
		// instead of 408-446, and 3.2-4.5 ms per selective search instead
		// of 4.6-4.8 (16 MB and more were dearer; the OS keeps the file in
		// its own cache either way). 2 MB is SQLite's default.
		q.Add("_pragma", "cache_size(-2000)")
	} else {
		q.Add("_pragma", "cache_size(-32000)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// dialect is SQLite's side of sqlstore.
type dialect struct{ sp speedups }

// speedups switches SQLite's speed-ups. Open turns every one on; each
// says in its doc comment the benchmark figure that keeps it, and the
// benchmarks turn it off to measure it again.
type speedups struct {
	groupCommit bool // dialect.GroupCommit
	gramSearch  bool // dialect.SearchUsers, one short term (search_short.go)
	phrases     bool // dialect.SearchUsers, terms of 3+ characters (search_phrase.go)
	phraseFew   bool // searchPhrases reads up to smallSearch matches in one ranked pass
	bulkLoad    bool // dialect.BeginBulk
	stmtCache   bool // stmtcache.go
	multiThread bool // nomutex.go
}

var allSpeedups = speedups{groupCommit: true, gramSearch: true, phrases: true, phraseFew: true, bulkLoad: true, stmtCache: true, multiThread: true}

func (dialect) Name() string { return "sqlite" }

// ReadIsolation is the driver's default: a read transaction in WAL mode
// already reads one snapshot.
func (dialect) ReadIsolation() sql.IsolationLevel { return sql.LevelDefault }
func (dialect) Migrations() (embed.FS, string)    { return migrations, "migrations" }
func (dialect) Rebind(q string) string            { return q }
func (dialect) Time(t time.Time) any              { return t.UTC().UnixMicro() }

// GroupCommit: SQLite has one writer, so concurrent write requests are
// committed together, one fsync for the group (sqlstore's groupcommit.go).
// It pays for itself: BenchmarkGroupCommit (concurrent CreateToken, 32
// writers) takes 163 µs a write against 924 µs without (2026-12-02).
func (d dialect) GroupCommit() bool { return d.sp.groupCommit }

// MultiStatement is false: statements go through the connection's cache
// of prepared statements (stmtcache.go), one statement each.
func (dialect) MultiStatement() bool { return false }

func (dialect) Strpos() string                                  { return "instr" }
func (dialect) BeginWrite(context.Context, *sql.Tx) error       { return nil } // one writer connection already serializes
func (dialect) Published(context.Context, *sql.Tx, int64) error { return nil }

func (dialect) JSONArrayAgg(keys, exprs []string, order string) string {
	return "json_group_array(json_object(" + sqlstore.JSONPairs(keys, exprs) + ") ORDER BY " + order + ")"
}

// SearchFrom narrows a search through the FTS5 trigram index: every trigram
// of every term of three or more characters must be present (the caller
// re-checks each term with instr). With only shorter terms there is no
// index path and the users table is scanned. It serves sqlstore's portable
// search, which SearchUsers leaves only the searches that mix terms of
// three or more characters with shorter ones.
func (dialect) SearchFrom(terms []string) (string, []string, []any) {
	if match := trigramMatch(terms); match != "" {
		return "users u JOIN (SELECT rowid FROM users_fts WHERE users_fts MATCH ?) f ON f.rowid = u.id", nil, []any{match}
	}
	return "users u", nil, nil
}

// trigramMatch returns an FTS5 query that ANDs every trigram of every term of
// three or more characters, or "" when no term is that long.
func trigramMatch(terms []string) string {
	seen := map[string]bool{}
	var parts []string
	for _, t := range terms {
		r := []rune(t)
		for i := 0; i+3 <= len(r); i++ {
			g := string(r[i : i+3])
			if seen[g] {
				continue
			}
			seen[g] = true
			parts = append(parts, ftsPhrase(g))
		}
	}
	return strings.Join(parts, " AND ")
}

// ftsPhrase quotes s as an FTS5 string (a phrase of its one token).
func ftsPhrase(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// MapErr maps SQLite result codes to roster errors.
func (dialect) MapErr(err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &roster.Error{Code: roster.ECONFLICT, Message: "The resource conflicts with an existing one."}
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED, sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL:
			return fmt.Errorf("%w: %w", &roster.Error{Code: roster.EUNAVAILABLE, Message: "The database is not available."}, err)
		}
	}
	return err
}

// LockUsersNoWait is "": write transactions begin IMMEDIATE, which keeps
// every other writer of the file out until commit.
func (dialect) LockUsersNoWait() string { return "" }
