package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"

	sqlite3 "modernc.org/sqlite"
)

// maxCachedStmts bounds the prepared statements one connection keeps.
// Queries are built from a few fixed shapes; the bound only matters for
// shapes with variable IN lists, and when it is reached the cache starts
// over.
const maxCachedStmts = 256

// openDB opens a pool whose connections keep their prepared statements:
// database/sql prepares, runs and finalizes a statement for every query
// it is not given a *sql.Stmt for, and parsing SQL was a fifth of the CPU
// time of GET /users/{id} and GET /users (pprof of cmd/roster-bench). It
// pays for itself: BenchmarkReads/profile (FindUserByID, 20,000 users)
// spends 28-40 µs of CPU a read against 57-74 µs without (2026-12-02).
func openDB(dsn string, sp speedups) *sql.DB {
	return sql.OpenDB(connector{dsn: dsn, drv: newDriver(), sp: sp})
}

type connector struct {
	dsn string
	drv *sqlite3.Driver // with Roster's SQL functions (searchgrams.go)
	sp  speedups
}

func (c connector) Connect(context.Context) (driver.Conn, error) {
	cn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	if c.sp.multiThread {
		multiThreadMode(cn)
	}
	inner, ok := cn.(innerConn)
	if !ok || !c.sp.stmtCache {
		return cn, nil // a driver without the expected methods: no cache
	}
	return &cachingConn{innerConn: inner, stmts: map[string]*cachedStmt{}}, nil
}

func (c connector) Driver() driver.Driver { return c.drv }

// innerConn is what database/sql uses of a modernc connection.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachedStmt struct {
	st    driver.Stmt
	inUse bool // rows of it are open: a second use must not reset it
}

// cachingConn serves QueryContext and ExecContext from statements prepared
// once per connection. database/sql never uses one connection from two
// goroutines at a time, so the map needs no lock.
type cachingConn struct {
	innerConn
	stmts map[string]*cachedStmt
}

// stmt returns the cached statement of query, preparing it on first use,
// or nil when query should not or cannot use the cache (a script of
// several statements, or a statement whose rows are still open).
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.inUse {
			return nil, nil
		}
		return cs, nil
	}
	if strings.Contains(query, ";") {
		return nil, nil
	}
	st, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := st.(driver.StmtQueryContext); !ok {
		st.Close()
		return nil, nil
	}
	if _, ok := st.(driver.StmtExecContext); !ok {
		st.Close()
		return nil, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, cs := range c.stmts {
			if !cs.inUse {
				cs.st.Close()
				delete(c.stmts, q)
			}
		}
	}
	cs := &cachedStmt{st: st}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.inUse = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.ExecContext(ctx, query, args)
	}
	return cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	for q, cs := range c.stmts {
		cs.st.Close()
		delete(c.stmts, q)
	}
	return c.innerConn.Close()
}

// cachedRows frees its statement for the next use when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.inUse = false
	return err
}
