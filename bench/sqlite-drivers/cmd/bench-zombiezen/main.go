// zombiezen.com/go/sqlite has no database/sql driver; this mirrors internal/bench/sqlbench.go
// using its native API (sqlitex.Pool, conn.Prep cached statements).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rosterhq/roster/bench/sqlite-drivers/internal/bench"
	"github.com/rosterhq/roster/bench/sqlite-drivers/internal/data"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

var Must = bench.Must

func exec(c *sqlite.Conn, q string) error { return sqlitex.ExecuteTransient(c, q, nil) }

// prepare is run once on each pooled connection (journal_mode=WAL comes from the default
// OpenWAL flag; busy_timeout via SetBusyTimeout, which replaces zombiezen's default
// block-until-interrupted busy handler).
func prepare(c *sqlite.Conn) error {
	c.SetBusyTimeout(5 * time.Second)
	// Not ExecuteScript: it wraps the script in a SAVEPOINT and synchronous can't change inside a tx.
	if err := exec(c, `PRAGMA synchronous=NORMAL`); err != nil {
		return err
	}
	return exec(c, `PRAGMA foreign_keys=ON`)
}

func step1(st *sqlite.Stmt) {
	_, err := st.Step()
	Must(err)
	Must(st.Reset())
}

func main() {
	ctx := context.Background()
	res := bench.Result{Driver: "zombiezen", Module: "zombiezen.com/go/sqlite", Version: "v1.4.2"}
	dir, err := os.MkdirTemp("", "driverbench-zombiezen-")
	Must(err)
	defer os.RemoveAll(dir)
	uri := "file:" + filepath.Join(dir, "roster.db")

	users := data.Gen(bench.BatchRows, 1)
	extra := data.Gen(bench.SingleTx, 2)

	wp, err := sqlitex.NewPool(uri, sqlitex.PoolOptions{PoolSize: 1, PrepareConn: prepare})
	Must(err)
	defer wp.Close()
	w, err := wp.Take(ctx)
	Must(err)
	Must(exec(w, bench.Schema))
	Must(sqlitex.ExecuteTransient(w, `select sqlite_version()`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { res.SQLiteVersion = st.ColumnText(0); return nil }}))

	begin, commit, ins := w.Prep("BEGIN"), w.Prep("COMMIT"), w.Prep(bench.InsertSQL)
	insert := func(u data.User) {
		ins.BindText(1, u.Username)
		ins.BindText(2, u.Email)
		ins.BindText(3, u.First)
		ins.BindText(4, u.Last)
		ins.BindText(5, u.Search)
		step1(ins)
	}
	t0 := time.Now()
	for i := 0; i < bench.BatchRows; i += bench.BatchSize {
		step1(begin)
		for _, u := range users[i : i+bench.BatchSize] {
			insert(u)
		}
		step1(commit)
	}
	res.BatchRowsPS = bench.BatchRows / time.Since(t0).Seconds()
	bench.Logf("[zombiezen] batch insert: %.0f rows/s", res.BatchRowsPS)

	t0 = time.Now()
	for _, u := range extra {
		step1(begin)
		insert(u)
		step1(commit)
	}
	res.SingleTxPS = bench.SingleTx / time.Since(t0).Seconds()
	bench.Logf("[zombiezen] single tx: %.0f tx/s", res.SingleTxPS)

	var maxID int64
	Must(sqlitex.ExecuteTransient(w, `select max(id) from users`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { maxID = st.ColumnInt64(0); return nil }}))

	rp, err := sqlitex.NewPool(uri, sqlitex.PoolOptions{PoolSize: bench.Readers, PrepareConn: prepare})
	Must(err)
	defer rp.Close()
	var held []*sqlite.Conn
	for i := 0; i < bench.Readers; i++ {
		c, err := rp.Take(ctx)
		Must(err)
		held = append(held, c)
		var jm string
		var sy, fk, bt int64
		for _, p := range []struct {
			q string
			f func(*sqlite.Stmt)
		}{
			{"pragma journal_mode", func(s *sqlite.Stmt) { jm = s.ColumnText(0) }},
			{"pragma synchronous", func(s *sqlite.Stmt) { sy = s.ColumnInt64(0) }},
			{"pragma foreign_keys", func(s *sqlite.Stmt) { fk = s.ColumnInt64(0) }},
			{"pragma busy_timeout", func(s *sqlite.Stmt) { bt = s.ColumnInt64(0) }},
		} {
			f := p.f
			Must(sqlitex.ExecuteTransient(c, p.q, &sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error { f(s); return nil }}))
		}
		got := fmt.Sprintf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d", jm, sy, fk, bt)
		if got != bench.PragmaWant {
			panic("pragma mismatch: " + got)
		}
		res.Pragmas = append(res.Pragmas, got)
	}
	for _, c := range held {
		rp.Put(c)
	}

	lookup := func(ids []int64) {
		for _, want := range ids {
			c, err := rp.Take(ctx)
			Must(err)
			st := c.Prep(bench.SelectSQL)
			st.BindInt64(1, want)
			ok, err := st.Step()
			Must(err)
			if !ok {
				panic("no row")
			}
			id := st.ColumnInt64(0)
			un, em, fi, la, se := st.ColumnText(1), st.ColumnText(2), st.ColumnText(3), st.ColumnText(4), st.ColumnText(5)
			_, _, _, _, _ = un, em, fi, la, se
			Must(st.Reset())
			rp.Put(c)
			if id != want {
				panic("wrong row")
			}
		}
	}
	ids := data.IDs(bench.Lookups, maxID, 3)
	lookup(ids[:5000])
	t0 = time.Now()
	lookup(ids)
	res.Select1GPS = bench.Lookups / time.Since(t0).Seconds()
	// Extra (not in the table): 1 goroutine holding one conn, i.e. without per-lookup pool Take/Put.
	{
		c, err := rp.Take(ctx)
		Must(err)
		st := c.Prep(bench.SelectSQL)
		t0 = time.Now()
		for _, want := range ids {
			st.BindInt64(1, want)
			ok, err := st.Step()
			Must(err)
			if !ok || st.ColumnInt64(0) != want {
				panic("bad row")
			}
			_, _, _, _, _ = st.ColumnText(1), st.ColumnText(2), st.ColumnText(3), st.ColumnText(4), st.ColumnText(5)
			Must(st.Reset())
		}
		res.Select1GHeldPS = bench.Lookups / time.Since(t0).Seconds()
		rp.Put(c)
	}
	var wg sync.WaitGroup
	per := bench.Lookups / bench.Readers
	t0 = time.Now()
	for g := 0; g < bench.Readers; g++ {
		wg.Add(1)
		go func(part []int64) { defer wg.Done(); lookup(part) }(ids[g*per : (g+1)*per])
	}
	wg.Wait()
	res.Select4GPS = bench.Lookups / time.Since(t0).Seconds()
	bench.Logf("[zombiezen] point select: 1g %.0f/s (held conn %.0f/s), 4g %.0f/s", res.Select1GPS, res.Select1GHeldPS, res.Select4GPS)

	if err := exec(w, bench.FTSCreateSQL); err != nil {
		res.FTSError = err.Error()
		bench.Logf("[zombiezen] FTS5 trigram: %v", err)
		wp.Put(w)
		res.Emit()
		return
	}
	res.FTSOK = true
	t0 = time.Now()
	Must(exec(w, bench.FTSRebuild))
	res.FTSRebuildSec = time.Since(t0).Seconds()
	wp.Put(w)

	terms := data.Terms(users, bench.FTSQueries, 4)
	run := func(terms []string) (hits int) {
		for _, t := range terms {
			c, err := rp.Take(ctx)
			Must(err)
			st := c.Prep(bench.FTSQuerySQL)
			st.BindText(1, t)
			for {
				ok, err := st.Step()
				Must(err)
				if !ok {
					break
				}
				_ = st.ColumnInt64(0)
				hits++
			}
			Must(st.Reset())
			rp.Put(c)
		}
		return
	}
	run(terms[:100])
	t0 = time.Now()
	hits := run(terms)
	res.FTSQPS = bench.FTSQueries / time.Since(t0).Seconds()
	res.FTSAvgHits = float64(hits) / bench.FTSQueries
	if hits == 0 {
		panic("FTS returned no hits")
	}
	bench.Logf("[zombiezen] FTS: rebuild %.2fs, %.0f q/s, avg hits %.1f", res.FTSRebuildSec, res.FTSQPS, res.FTSAvgHits)
	res.Emit()
}
