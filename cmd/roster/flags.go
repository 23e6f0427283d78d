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
	"time"

	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

// cmdFlags is the flag set of one subcommand. A flag may name the
// environment variable that sets it when the command line does not; -h
// prints a multi-line help on stdout that names them (see helpRequest).
type cmdFlags struct {
	*flag.FlagSet
	summary string            // one sentence under the usage line
	args    string            // what follows [flags] on the usage line
	env     map[string]string // flag name -> environment variable
	defText map[string]string // flag name -> default shown in help instead of its zero value
	order   []string          // flags with an environment variable, in order of definition
	getenv  func(string) string
}

// newCmd returns the flag set of the subcommand name (say "user create").
func newCmd(name, summary string, getenv func(string) string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &cmdFlags{FlagSet: fs, summary: summary, env: map[string]string{}, defText: map[string]string{}, getenv: getenv}
}

// newFlags returns the flag set of a subcommand that opens the database:
// --db (env ROSTER_DB, default roster.db) and --db-file (env
// ROSTER_DB_FILE), a file holding the --db value, so that a PostgreSQL
// password need not appear on the command line.
func newFlags(name, summary string, getenv func(string) string) (*cmdFlags, *string) {
	f := newCmd(name, summary, getenv)
	db := f.str("db", "ROSTER_DB", "roster.db", "database: a file path, sqlite:PATH or postgres://... (prefer ROSTER_DB or --db-file for a URL with a password)")
	f.Var(&dbFileValue{db: db}, "db-file", "read the --db value from this `file` (its first line)")
	f.bind("db-file", "ROSTER_DB_FILE")
	return f, db
}

func (f *cmdFlags) bind(name, env string) {
	if env != "" {
		f.env[name] = env
		f.order = append(f.order, name)
	}
}

func (f *cmdFlags) str(name, env, def, usage string) *string {
	p := f.String(name, def, usage)
	f.bind(name, env)
	return p
}

func (f *cmdFlags) integer(name, env string, def int, usage string) *int {
	p := f.Int(name, def, usage)
	f.bind(name, env)
	return p
}

func (f *cmdFlags) float(name, env string, def float64, usage string) *float64 {
	p := f.Float64(name, def, usage)
	f.bind(name, env)
	return p
}

func (f *cmdFlags) boolean(name, env string, def bool, usage string) *bool {
	p := f.Bool(name, def, usage)
	f.bind(name, env)
	return p
}

func (f *cmdFlags) duration(name, env string, def time.Duration, usage string) *time.Duration {
	p := f.Duration(name, def, usage)
	f.bind(name, env)
	return p
}

// dbFileValue is --db-file: setting it reads the file into --db.
type dbFileValue struct {
	db   *string
	path string
}

func (v *dbFileValue) String() string {
	if v == nil {
		return ""
	}
	return v.path
}

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
	v.path, *v.db = path, line
	return nil
}

// helpRequest is what parsing -h or --help returns: run prints the help
// on stdout and exits 0.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string { return "help requested" }

// parseFlags parses args, then sets each flag the command line left out
// from its environment variable. --db and --db-file go together: either on
// the command line overrides both variables (ROSTER_DB_FILE wins over
// ROSTER_DB). A bad value in a variable is a usage error naming it.
func parseFlags(f *cmdFlags, args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{text: f.help()}
		}
		return usagef("%s: %v", f.Name(), err)
	}
	if f.NArg() > 0 && f.args == "" {
		return usagef("%s: unexpected argument %q", f.Name(), f.Arg(0))
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if given["db"] || given["db-file"] {
		given["db"], given["db-file"] = true, true
	}
	for _, name := range f.order {
		env := f.env[name]
		v := f.getenv(env)
		if v == "" || given[name] {
			continue
		}
		if err := f.Set(name, v); err != nil {
			return usagef("%s: %v", env, err)
		}
	}
	return nil
}

// help renders the usage line, the summary and one entry per flag with its
// default and environment variable.
func (f *cmdFlags) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: roster %s [flags]", f.Name())
	if f.args != "" {
		b.WriteString(" " + f.args)
	}
	fmt.Fprintf(&b, "\n\n%s\n\nflags:\n", wrap(f.summary, 78))
	f.VisitAll(func(fl *flag.Flag) {
		kind, usage := flag.UnquoteUsage(fl)
		fmt.Fprintf(&b, "  --%s", fl.Name)
		if kind != "" {
			b.WriteString(" " + kind)
		}
		b.WriteString("\n        " + usage)
		var notes []string
		if d, ok := f.defText[fl.Name]; ok {
			notes = append(notes, "default: "+d)
		} else if d := fl.DefValue; d != "" && d != "0" && d != "false" && d != "0s" {
			if kind == "string" {
				d = strconv.Quote(d)
			}
			notes = append(notes, "default "+d)
		}
		if env := f.env[fl.Name]; env != "" {
			notes = append(notes, "env "+env)
		}
		if len(notes) > 0 {
			b.WriteString(" (" + strings.Join(notes, "; ") + ")")
		}
		b.WriteString("\n")
	})
	return b.String()
}

// flagSet reports whether the command line (or the flag's environment
// variable) gave flag name, even with an empty value.
func flagSet(fs *cmdFlags, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
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

// wrap breaks s into lines of at most width columns at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && n+1+len(w) > width {
			b.WriteString("\n")
			n = 0
		} else if i > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
