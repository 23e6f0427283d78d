package main

import (
	"github.com/rosterhq/roster/bench/sqlite-drivers/internal/bench"

	_ "modernc.org/sqlite"
)

func main() {
	bench.Run(bench.Spec{
		Name: "modernc", Module: "modernc.org/sqlite", Version: "v1.62.0",
		DriverName: "sqlite",
		DSN: func(p string) string {
			return "file:" + p + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
		},
	}).Emit()
}
