// Trivial program: open a DB with this driver, print sqlite_version and whether FTS5 trigram works.
package main

import (
	"database/sql"
	"fmt"
	_ "github.com/mattn/go-sqlite3"
)

func main() {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("select sqlite_version()").Scan(&v); err != nil {
		panic(err)
	}
	_, err = db.Exec("create virtual table t using fts5(x, tokenize='trigram case_sensitive 1')")
	fmt.Println("sqlite", v, "fts5-trigram err:", err)
}
