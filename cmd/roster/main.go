// Command roster runs the Roster users directory: the HTTP server and the
// administrative subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "roster: "+oneLine(err.Error()))
		os.Exit(exitCode(err))
	}
}

// usageError marks errors of the command line or of the database setting:
// exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

const usage = `usage: roster <command> [flags]

commands:
  serve         run the HTTP server (--addr, --db, --db-pool)
  migrate       apply database migrations (--db)
  migrate-data  copy a SQLite database into PostgreSQL, keeping ids (--from, --to, --truncate)
  user create   create a user (--username, --email, --first, --last, --admin, --password-stdin)
  token create  print a new API token for a user (--username, --scopes, --name, --ttl)
  seed          fill the database with synthetic data (--users, --groups, --workspaces, --activities)

Every command takes --db (a file path, sqlite:PATH or postgres://...; env ROSTER_DB).
`

// run is the whole program; main only calls it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout)
	case "migrate-data":
		return runMigrateData(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		if len(args) > 1 && args[1] == "create" {
			return runUserCreate(ctx, args[2:], getenv, stdin, stdout)
		}
		return usagef("unknown command %q (did you mean \"user create\"?)", joinArgs(args, 2))
	case "token":
		if len(args) > 1 && args[1] == "create" {
			return runTokenCreate(ctx, args[2:], getenv, stdout)
		}
		return usagef("unknown command %q (did you mean \"token create\"?)", joinArgs(args, 2))
	case "seed":
		return runSeed(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q; run \"roster help\"", args[0])
}

func joinArgs(args []string, n int) string {
	if len(args) < n {
		n = len(args)
	}
	s := ""
	for i, a := range args[:n] {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}
