package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/rosterhq/roster/sqlite"
)

// newFlags returns a flag set that reports errors in one line and takes
// --db (default from ROSTER_DB, else roster.db).
func newFlags(name string, getenv func(string) string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", envOr(getenv, "ROSTER_DB", "roster.db"), "database: a file path, sqlite:PATH or postgres://...")
	return fs, db
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			fs.SetOutput(&b)
			fs.PrintDefaults()
			return usagef("usage of %s:\n%s", fs.Name(), b.String())
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// openStore opens and migrates the database named by a --db value.
func openStore(ctx context.Context, dbURL string) (*sqlite.DB, error) {
	path, err := sqlitePath(dbURL)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, usageError{err}
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, usageError{err}
	}
	return db, nil
}

func sqlitePath(dbURL string) (string, error) {
	switch {
	case dbURL == "":
		return "", usagef("--db is empty")
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return "", usagef("--db: PostgreSQL is not supported by this build yet; use a SQLite path")
	case strings.HasPrefix(dbURL, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if p == "" {
			return "", usagef("--db: sqlite: needs a path")
		}
		return p, nil
	case strings.Contains(dbURL, "://"):
		return "", usagef("--db: unsupported database URL scheme in %q", dbURL)
	}
	return dbURL, nil
}
