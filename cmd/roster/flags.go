package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

// newFlags returns a flag set that reports errors in one line and takes
// --db (default from ROSTER_DB, else roster.db) and --db-file (default
// ROSTER_DB_FILE), a file holding the --db value, so that a PostgreSQL
// password need not appear on the command line.
func newFlags(name string, getenv func(string) string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", envOr(getenv, "ROSTER_DB", "roster.db"), "database: a file path, sqlite:PATH or postgres://... (prefer ROSTER_DB or --db-file for a URL with a password)")
	v := &dbFileValue{db: db}
	if p := getenv("ROSTER_DB_FILE"); p != "" {
		v.envErr = v.Set(p)
	}
	fs.Var(v, "db-file", "read the --db value from this file (first line; env ROSTER_DB_FILE)")
	return fs, db
}

// dbFileValue is --db-file: setting it reads the file into --db.
type dbFileValue struct {
	db     *string
	path   string
	envErr error // reading ROSTER_DB_FILE failed (reported by parseFlags unless --db-file is given)
}

func (v *dbFileValue) String() string { return v.path }

func (v *dbFileValue) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--db-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return fmt.Errorf("--db-file %s is empty", path)
	}
	v.path, v.envErr, *v.db = path, nil, line
	return nil
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
	if f := fs.Lookup("db-file"); f != nil {
		if v, ok := f.Value.(*dbFileValue); ok && v.envErr != nil {
			return usagef("ROSTER_DB_FILE: %v", v.envErr)
		}
	}
	return nil
}

// flagSet reports whether the command line gave flag name, even with an
// empty value.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// envInt reads an integer environment variable; a malformed one gives -1,
// which the caller's range check reports.
func envInt(getenv func(string) string, key string, def int) int {
	v := getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// envFloat reads a number from the environment; a malformed one gives -1,
// which the caller's range check reports.
func envFloat(getenv func(string) string, key string, def float64) float64 {
	v := getenv(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// storeKind is what a --db value names.
type storeKind int

const (
	kindSQLite storeKind = iota
	kindPostgres
)

// parseDB reads a --db value: a file path, sqlite:PATH, or a postgres:// URL.
func parseDB(dbURL string) (storeKind, string, error) {
	switch {
	case dbURL == "":
		return 0, "", usagef("--db is empty")
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return kindPostgres, dbURL, nil
	case strings.HasPrefix(dbURL, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if p == "" {
			return 0, "", usagef("--db: sqlite: needs a path")
		}
		return kindSQLite, p, nil
	case strings.Contains(dbURL, "://"):
		return 0, "", usagef("--db: unsupported database URL scheme in %q (use a file path, sqlite:PATH or postgres://...)", redactURL(dbURL))
	}
	return kindSQLite, dbURL, nil
}

// redactURL hides a password in a database URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// openStore opens and migrates the database named by a --db value; pool
// sizes the PostgreSQL connection pool (0: the default).
func openStore(ctx context.Context, dbURL string, pool int) (*sqlstore.DB, error) {
	kind, target, err := parseDB(dbURL)
	if err != nil {
		return nil, err
	}
	var db *sqlstore.DB
	switch kind {
	case kindPostgres:
		db, err = postgres.Open(ctx, target, postgres.Options{MaxConns: pool})
	default:
		db, err = sqlite.Open(ctx, target)
	}
	if err != nil {
		return nil, usageError{err}
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, usageError{err}
	}
	return db, nil
}
