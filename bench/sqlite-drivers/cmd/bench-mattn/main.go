package main

import (
	"github.com/rosterhq/roster/bench/sqlite-drivers/internal/bench"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	bench.Run(bench.Spec{
		Name: "mattn", Module: "github.com/mattn/go-sqlite3", Version: "v1.14.53",
		DriverName: "sqlite3",
		DSN: func(p string) string {
			return "file:" + p + "?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=on"
		},
	}).Emit()
}
