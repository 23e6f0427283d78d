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
  serve             run the HTTP server
  migrate           apply database migrations
  migrate-data      copy a SQLite database into PostgreSQL, keeping ids
  user create       create a user
  user list         list users
  user set-password set a user's password (read from standard input)
  user delete       delete a user
  token create      print a new API token for a user
  seed              fill the database with synthetic data
  backup            write a consistent copy of a running SQLite database to a file
  restore           replace a SQLite database with a backup
  healthcheck       exit 0 when a server's /healthz answers 200 (for container health checks)
  version           print the version, commit and Go version

Every command that opens the database takes --db (a file path, sqlite:PATH or
postgres://...; env ROSTER_DB). "roster help <command>" or "roster <command> -h"
describes a command and its flags, each with its environment variable.
`

const userUsage = `usage: roster user <command> [flags]

commands:
  create        create a user
  list          list users
  set-password  set a user's password, read from the first line of standard input
  delete        delete a user

"roster help user <command>" describes each.
`

// run is the whole program; main only calls it. Help asked for with -h,
// --help or "help" goes to stdout with a nil error (exit status 0).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if h, ok := errors.AsType[*helpRequest](err); ok {
		fmt.Fprint(stdout, h.text)
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
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
		sub := ""
		if len(args) > 1 {
			sub = args[1]
		}
		switch sub {
		case "create":
			return runUserCreate(ctx, args[2:], getenv, stdin, stdout)
		case "list":
			return runUserList(ctx, args[2:], getenv, stdout)
		case "set-password":
			return runUserSetPassword(ctx, args[2:], getenv, stdin, stdout)
		case "delete":
			return runUserDelete(ctx, args[2:], getenv, stdout)
		case "-h", "--help", "help":
			return &helpRequest{text: userUsage}
		}
		return usagef("unknown command %q; run \"roster help user\"", joinArgs(args, 2))
	case "token":
		if len(args) > 1 && args[1] == "create" {
			return runTokenCreate(ctx, args[2:], getenv, stdout)
		}
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
			return &helpRequest{text: "usage: roster token create [flags]\n\n\"roster help token create\" describes it.\n"}
		}
		return usagef("unknown command %q (did you mean \"token create\"?)", joinArgs(args, 2))
	case "seed":
		return runSeed(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, args[1:], getenv, stdout)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], getenv, stdout)
	case "version", "--version":
		return runVersion(args[1:], getenv, stdout)
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" {
			// "roster help serve" is "roster serve --help".
			return dispatch(ctx, append(append([]string(nil), args[1:]...), "--help"), getenv, stdin, stdout, stderr)
		}
		return &helpRequest{text: usage}
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
