// Trivial program: open a DB with zombiezen, print sqlite_version and whether FTS5 trigram works.
package main

import (
	"fmt"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

func main() {
	c, err := sqlite.OpenConn(":memory:")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	var v string
	err = sqlitex.ExecuteTransient(c, "select sqlite_version()", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { v = s.ColumnText(0); return nil }})
	if err != nil {
		panic(err)
	}
	err = sqlitex.ExecuteTransient(c, "create virtual table t using fts5(x, tokenize='trigram case_sensitive 1')", nil)
	fmt.Println("sqlite", v, "fts5-trigram err:", err)
}
