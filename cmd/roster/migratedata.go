package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rosterhq/roster/postgres"
)

// runMigrateData copies a SQLite database into PostgreSQL, keeping ids.
func runMigrateData(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, db := newFlags("migrate-data", "Copy a SQLite database into PostgreSQL, keeping ids, and verify the row counts. "+
		"--db (ROSTER_DB) stands for --from when it names a SQLite database and for --to when it names PostgreSQL.", getenv)
	from := fs.String("from", "", "the SQLite database to copy (a path or sqlite:PATH)")
	to := fs.String("to", "", "the PostgreSQL database to fill (postgres://...)")
	truncate := fs.Bool("truncate", false, "empty a non-empty target first (without it such a target is refused)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if flagSet(fs, "db") || flagSet(fs, "db-file") {
		if kind, _, err := parseDB(*db); err != nil {
			return err
		} else if kind == kindSQLite && *from == "" {
			*from = *db
		} else if kind == kindPostgres && *to == "" {
			*to = *db
		}
	}
	if *from == "" || *to == "" {
		return usagef("migrate-data: --from and --to are required")
	}
	if kind, path, err := parseDB(*from); err != nil {
		return err
	} else if kind != kindSQLite {
		return usagef("migrate-data: --from must be a SQLite database")
	} else if _, err := os.Stat(path); err != nil {
		// Opening a missing file would create an empty database and copy
		// nothing (after --truncate emptied the target).
		return usagef("migrate-data: --from: %v", err)
	}
	if kind, _, err := parseDB(*to); err != nil {
		return err
	} else if kind != kindPostgres {
		return usagef("migrate-data: --to must be a postgres:// URL")
	}
	src, err := openStore(ctx, *from, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openStore(ctx, *to, 4)
	if err != nil {
		return err
	}
	defer dst.Close()
	start := time.Now()
	prog := newProgress(stderr)
	err = postgres.CopyFromSQLite(ctx, src.ReadDB(), dst.WriteDB(), postgres.CopyOptions{Truncate: *truncate, Progress: prog})
	prog.end()
	if err != nil {
		return fmt.Errorf("migrate-data: %w", err)
	}
	fmt.Fprintf(stdout, "copied %s to %s in %s; row counts verified\n", *from, redactURL(*to), time.Since(start).Round(time.Millisecond))
	return nil
}
