package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/sqlite"
)

// pgDumpAdvice is the answer of backup and restore for PostgreSQL.
const pgDumpAdvice = "a PostgreSQL database is backed up with pg_dump (pg_dump --format=custom --file=roster.dump URL) " +
	"and restored with pg_restore (pg_restore --clean --if-exists --dbname=URL roster.dump)"

// runBackup writes a consistent copy of a SQLite database, online.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("backup", "Write a consistent copy of a SQLite database to FILE (which must not exist) while servers "+
		"keep running; the copy holds every write acknowledged before the backup started. "+
		"For PostgreSQL use pg_dump.", getenv)
	fs.args = "FILE"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("backup: give one FILE to write the backup to")
	}
	kind, path, err := parseDB(*dbURL)
	if err != nil {
		return err
	}
	if kind == kindPostgres {
		return usagef("backup: %s", pgDumpAdvice)
	}
	start := time.Now()
	if err := sqlite.Backup(ctx, path, fs.Arg(0)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	size := int64(0)
	if fi, err := os.Stat(fs.Arg(0)); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes) in %s\n", path, fs.Arg(0), size, time.Since(start).Round(time.Millisecond))
	return nil
}

// runRestore replaces a stopped server's SQLite database with a backup.
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, dbURL := newFlags("restore", "Replace the SQLite database --db with the backup FILE, after checking that FILE is an "+
		"intact Roster database. Stop every server using --db first; the next start migrates the restored database if it is older. "+
		"For PostgreSQL use pg_restore.", getenv)
	fs.args = "FILE"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("restore: give the one backup FILE to restore")
	}
	kind, path, err := parseDB(*dbURL)
	if err != nil {
		return err
	}
	if kind == kindPostgres {
		return usagef("restore: %s", pgDumpAdvice)
	}
	if err := sqlite.Restore(ctx, fs.Arg(0), path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s from %s\n", path, fs.Arg(0))
	return nil
}

// runHealthcheck asks a server's /healthz, for container health checks in
// images that have no curl.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newCmd("healthcheck", "Exit with status 0 when the server answers GET /healthz with 200, else 1. "+
		"By default it asks the server on this machine at --addr (ROSTER_ADDR), over HTTPS when ROSTER_TLS_CERT is set "+
		"(without verifying the certificate: it checks liveness, not identity).", getenv)
	addr := fs.str("addr", "ROSTER_ADDR", ":8080", "the server's listen address")
	url := fs.str("url", "ROSTER_HEALTHCHECK_URL", "", "the URL to ask instead (http://host:port/healthz)")
	timeout := fs.Duration("timeout", 5*time.Second, "longest wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	target := *url
	tlsOn := getenv("ROSTER_TLS_CERT") != ""
	if target == "" {
		host, port, err := net.SplitHostPort(*addr)
		if err != nil {
			return usagef("healthcheck: --addr: %v", err)
		}
		if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
			host = "127.0.0.1"
		}
		scheme := "http"
		if tlsOn {
			scheme = "https"
		}
		target = scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: tlsOn && *url == ""}, // #nosec: a liveness probe of the local server
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usagef("healthcheck: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", target, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// runVersion prints the version, commit and Go version of the binary.
func runVersion(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newCmd("version", "Print the module version, the commit it was built from and the Go version.", getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b := app.Build()
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Time != "" {
		commit += " (" + b.Time + ")"
	}
	if b.Modified {
		commit += ", modified"
	}
	fmt.Fprintf(stdout, "roster %s\ncommit: %s\ngo: %s\n", b.Version, commit, b.GoVersion)
	return nil
}
