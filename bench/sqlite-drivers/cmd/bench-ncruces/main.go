package main

import (
	"database/sql"
	"os"

	"github.com/rosterhq/roster/bench/sqlite-drivers/internal/bench"

	"github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/ext/fts5"
)

func main() {
	spec := bench.Spec{
		Name: "ncruces", Module: "github.com/ncruces/go-sqlite3", Version: "v0.37.0",
		DriverName: "sqlite3",
		DSN: func(p string) string {
			return "file:" + p + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)&_pragma=synchronous(normal)&_pragma=foreign_keys(on)"
		},
	}
	// In v0.37.0 FTS5 is a separate extension (ext/fts5), not compiled into the core.
	// NCRUCES_FTS5=0 runs with the plain registered "sqlite3" driver only.
	if os.Getenv("NCRUCES_FTS5") != "0" {
		spec.Name = "ncruces+fts5"
		spec.Open = func(dsn string) (*sql.DB, error) { return driver.Open(dsn, fts5.Register) }
	}
	bench.Run(spec).Emit()
}
