// Package bench runs the Roster workload against a database/sql driver.
package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rosterhq/roster/bench/sqlite-drivers/internal/data"
)

type Spec struct {
	Name, Module, Version string
	DriverName            string                            // for sql.Open
	DSN                   func(path string) string          // must set all pragmas on every conn
	Open                  func(dsn string) (*sql.DB, error) // optional override of sql.Open
}

func (s Spec) open(dsn string) *sql.DB {
	var db *sql.DB
	var err error
	if s.Open != nil {
		db, err = s.Open(dsn)
	} else {
		db, err = sql.Open(s.DriverName, dsn)
	}
	Must(err)
	return db
}

func Run(s Spec) Result {
	ctx := context.Background()
	res := Result{Driver: s.Name, Module: s.Module, Version: s.Version}
	dir, err := os.MkdirTemp("", "driverbench-"+s.Name+"-")
	Must(err)
	defer os.RemoveAll(dir)
	dsn := s.DSN(filepath.Join(dir, "roster.db"))
	Logf("[%s] dsn=%s", s.Name, dsn)

	users := data.Gen(BatchRows, 1)
	extra := data.Gen(SingleTx, 2)

	// Single writer connection.
	w := s.open(dsn)
	defer w.Close()
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	_, err = w.Exec(Schema)
	Must(err)
	Must(w.QueryRow(`select sqlite_version()`).Scan(&res.SQLiteVersion))

	ins, err := w.Prepare(InsertSQL)
	Must(err)

	// 1. Batch insert.
	t0 := time.Now()
	for i := 0; i < BatchRows; i += BatchSize {
		tx, err := w.Begin()
		Must(err)
		st := tx.Stmt(ins)
		for _, u := range users[i : i+BatchSize] {
			_, err := st.Exec(u.Username, u.Email, u.First, u.Last, u.Search)
			Must(err)
		}
		Must(tx.Commit())
	}
	res.BatchRowsPS = BatchRows / time.Since(t0).Seconds()
	Logf("[%s] batch insert: %.0f rows/s", s.Name, res.BatchRowsPS)

	// 2. Single-row insert transactions.
	t0 = time.Now()
	for _, u := range extra {
		tx, err := w.Begin()
		Must(err)
		_, err = tx.Stmt(ins).Exec(u.Username, u.Email, u.First, u.Last, u.Search)
		Must(err)
		Must(tx.Commit())
	}
	res.SingleTxPS = SingleTx / time.Since(t0).Seconds()
	Logf("[%s] single tx: %.0f tx/s", s.Name, res.SingleTxPS)

	var maxID int64
	Must(w.QueryRow(`select max(id) from users`).Scan(&maxID))

	// Reader pool.
	r := s.open(dsn)
	defer r.Close()
	r.SetMaxOpenConns(Readers)
	r.SetMaxIdleConns(Readers)
	// Verify the DSN applied the pragmas on every pooled connection (hold all 4 at once).
	conns := make([]*sql.Conn, Readers)
	for i := range conns {
		conns[i], err = r.Conn(ctx)
		Must(err)
	}
	for _, c := range conns {
		var jm string
		var sy, fk, bt int
		Must(c.QueryRowContext(ctx, `pragma journal_mode`).Scan(&jm))
		Must(c.QueryRowContext(ctx, `pragma synchronous`).Scan(&sy))
		Must(c.QueryRowContext(ctx, `pragma foreign_keys`).Scan(&fk))
		Must(c.QueryRowContext(ctx, `pragma busy_timeout`).Scan(&bt))
		got := fmt.Sprintf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d", jm, sy, fk, bt)
		if got != PragmaWant {
			panic("pragma mismatch: " + got)
		}
		res.Pragmas = append(res.Pragmas, got)
		c.Close()
	}

	sel, err := r.Prepare(SelectSQL)
	Must(err)
	lookup := func(ids []int64) {
		var (
			id                     int64
			un, em, fi, la, search string
		)
		for _, want := range ids {
			Must(sel.QueryRow(want).Scan(&id, &un, &em, &fi, &la, &search))
			if id != want {
				panic("wrong row")
			}
		}
	}
	ids := data.IDs(Lookups, maxID, 3)
	lookup(ids[:5000]) // warm up: prepare on conns, page cache

	// 3a. Point select, 1 goroutine.
	t0 = time.Now()
	lookup(ids)
	res.Select1GPS = Lookups / time.Since(t0).Seconds()
	// 3b. Point select, 4 goroutines sharing the 4-conn pool.
	var wg sync.WaitGroup
	per := Lookups / Readers
	t0 = time.Now()
	for g := 0; g < Readers; g++ {
		wg.Add(1)
		go func(part []int64) { defer wg.Done(); lookup(part) }(ids[g*per : (g+1)*per])
	}
	wg.Wait()
	res.Select4GPS = Lookups / time.Since(t0).Seconds()
	Logf("[%s] point select: 1g %.0f/s, 4g %.0f/s", s.Name, res.Select1GPS, res.Select4GPS)

	// 4. FTS5 trigram.
	if _, err := w.Exec(FTSCreateSQL); err != nil {
		res.FTSError = err.Error()
		Logf("[%s] FTS5 trigram: %v", s.Name, err)
		return res
	}
	res.FTSOK = true
	t0 = time.Now()
	_, err = w.Exec(FTSRebuild)
	Must(err)
	res.FTSRebuildSec = time.Since(t0).Seconds()
	q, err := r.Prepare(FTSQuerySQL)
	Must(err)
	terms := data.Terms(users, FTSQueries, 4)
	run := func(terms []string) (hits int) {
		for _, t := range terms {
			rows, err := q.Query(t)
			Must(err)
			for rows.Next() {
				var id int64
				Must(rows.Scan(&id))
				hits++
			}
			Must(rows.Err())
			rows.Close()
		}
		return
	}
	run(terms[:100]) // warm up
	t0 = time.Now()
	hits := run(terms)
	res.FTSQPS = FTSQueries / time.Since(t0).Seconds()
	res.FTSAvgHits = float64(hits) / FTSQueries
	if hits == 0 {
		panic("FTS returned no hits")
	}
	Logf("[%s] FTS: rebuild %.2fs, %.0f q/s, avg hits %.1f", s.Name, res.FTSRebuildSec, res.FTSQPS, res.FTSAvgHits)
	return res
}
