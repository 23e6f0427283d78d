package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/postgres/pgtest"
)

// subcommands are every command line that names one subcommand.
var subcommands = [][]string{
	{"serve"}, {"migrate"}, {"migrate-data"}, {"user", "create"}, {"user", "list"}, {"user", "set-password"},
	{"user", "delete"}, {"token", "create"}, {"seed"}, {"backup"}, {"restore"}, {"healthcheck"}, {"version"},
}

// runOut runs the command in-process and returns its stdout, stderr and error.
func runOut(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, getenv(env), strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// flagEntries splits a help text into its flag entries ("--name ...").
func flagEntries(help string) map[string]string {
	entries := map[string]string{}
	_, flags, _ := strings.Cut(help, "\nflags:\n")
	name := ""
	for _, line := range strings.Split(flags, "\n") {
		if strings.HasPrefix(line, "  --") {
			name, _, _ = strings.Cut(strings.TrimPrefix(line, "  --"), " ")
		}
		if name != "" {
			entries[name] += line + "\n"
		}
	}
	return entries
}

// TestHelp: -h, --help and "roster help CMD" print a multi-line help on
// stdout, nothing on stderr, and succeed; every flag of serve and every
// --db names its environment variable.
func TestHelp(t *testing.T) {
	for _, cmd := range subcommands {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			var first string
			for _, args := range [][]string{append(cmd[:len(cmd):len(cmd)], "-h"), append(cmd[:len(cmd):len(cmd)], "--help"), append([]string{"help"}, cmd...)} {
				stdout, stderr, err := runOut(t, nil, "", args...)
				if err != nil {
					t.Fatalf("roster %q: %v", args, err)
				}
				if stderr != "" {
					t.Errorf("roster %q wrote to stderr: %q", args, stderr)
				}
				if !strings.HasPrefix(stdout, "usage: roster "+name+" [flags]") || strings.Count(stdout, "\n") < 4 {
					t.Errorf("roster %q: help is not a multi-line usage of %s:\n%s", args, name, stdout)
				}
				if first == "" {
					first = stdout
				} else if stdout != first {
					t.Errorf("roster %q differs from roster %s -h", args, name)
				}
			}
			entries := flagEntries(first)
			if db, ok := entries["db"]; ok && !strings.Contains(db, "env ROSTER_DB)") {
				t.Errorf("--db does not name ROSTER_DB: %q", db)
			}
			if name == "serve" {
				if len(entries) < 20 {
					t.Errorf("serve help lists %d flags:\n%s", len(entries), first)
				}
				for flag, entry := range entries {
					want := "env ROSTER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
					if !strings.Contains(entry, want) {
						t.Errorf("serve --%s does not name its environment variable (%s): %q", flag, want, entry)
					}
				}
				for _, flag := range []string{"log-level", "tls-cert", "tls-key", "metrics-addr", "public-url", "trusted-proxies"} {
					if _, ok := entries[flag]; !ok {
						t.Errorf("serve has no --%s", flag)
					}
				}
			}
			if strings.Contains(first, "(default -1)") || regexp.MustCompile(`\(default[^)]*\) \(default`).MatchString(first) {
				t.Errorf("help shows a sentinel or a doubled default:\n%s", first)
			}
		})
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"user", "-h"}, {"help", "user"}} {
		stdout, _, err := runOut(t, nil, "", args...)
		if err != nil || !strings.HasPrefix(stdout, "usage: roster ") || strings.Count(stdout, "\n") < 4 {
			t.Errorf("roster %q = %v:\n%s", args, err, stdout)
		}
	}
	stdout, _, _ := runOut(t, nil, "", "help", "seed")
	for flag, want := range map[string]string{"groups": "(default: users/200, at least 5)", "activities": "(default: 5 per user)"} {
		if e := flagEntries(stdout)[flag]; !strings.Contains(e, want) {
			t.Errorf("seed --%s help = %q, want %q", flag, e, want)
		}
	}
	_, _, err := runOut(t, nil, "", "help", "frobnicate")
	checkUsageError(t, err)
}

// TestServeFlagsFromEnvironment: each serve setting can come from its
// ROSTER_* variable, the command line wins over it, and a malformed value
// is a usage error naming the variable.
func TestServeFlagsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"ROSTER_DB_TIMEOUT": "3s", "ROSTER_TOKEN_TTL": "2h", "ROSTER_MAX_STREAMS_PER_USER": "7",
		"ROSTER_WEBHOOK_WORKERS": "3", "ROSTER_WEBHOOK_ALLOW_PRIVATE": "true", "ROSTER_SESSION_CACHE_TTL": "0s",
		"ROSTER_LOG_LEVEL": "warn", "ROSTER_DB_POOL": "4", "ROSTER_ADDR": "127.0.0.1:1",
	}
	c, err := parseServe([]string{"--db-pool", "5"}, getenv(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.dbTimeout != 3*time.Second || c.api.TokenTTL != 2*time.Hour || c.maxStreams != 7 || c.webhookWorkers != 3 ||
		!c.allowPrivate || c.sessionTTL != 0 || c.pool != 5 || c.addr != "127.0.0.1:1" {
		t.Errorf("parseServe from the environment = %+v", c)
	}
	if c.log.Enabled(context.Background(), slog.LevelInfo) || !c.log.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("ROSTER_LOG_LEVEL=warn did not set the level")
	}
	for _, kv := range [][2]string{{"ROSTER_DB_POOL", "many"}, {"ROSTER_DB_TIMEOUT", "soon"}, {"ROSTER_LOG_LEVEL", "loud"},
		{"ROSTER_WEBHOOK_ALLOW_PRIVATE", "perhaps"}, {"ROSTER_TLS_CERT", "/nonexistent.pem"}} {
		_, err := parseServe(nil, getenv(map[string]string{kv[0]: kv[1]}), io.Discard)
		checkUsageError(t, err)
		if err != nil && !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%s: error %q does not name the variable", kv[0], kv[1], err)
		}
	}
}

// TestVersion: "roster version" and "roster --version" print the module
// version, the commit and the Go version; the built binary knows its commit.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, _, err := runOut(t, nil, "", args...)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^roster \S+\ncommit: .+\ngo: go1\.\d+`).MatchString(stdout) {
			t.Errorf("roster %q = %q", args, stdout)
		}
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// -buildvcs=true: the environment may turn VCS stamping off (GOFLAGS).
	bin := filepath.Join(t.TempDir(), "roster")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	// In a clone (not a git worktree, whose .git is a file that the go
	// command does not follow) the binary knows its commit.
	if fi, err := os.Stat("../../.git"); err == nil && fi.IsDir() &&
		!regexp.MustCompile(`(?m)^commit: [0-9a-f]{40}`).Match(out) {
		t.Errorf("a binary built in a git checkout does not name its commit:\n%s", out)
	}
	// The binary: help on stdout with exit status 0.
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--help")
	cmd.Env, cmd.Stdout, cmd.Stderr = cleanEnv(), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("roster serve --help: %v", err)
	}
	if stderr.Len() != 0 || !strings.Contains(stdout.String(), "\n  --addr string\n") {
		t.Errorf("roster serve --help: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// TestUserAdminCommands: the way back from a lost admin password, and the
// user list and delete commands.
func TestUserAdminCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	env := map[string]string{"ROSTER_DB": db}
	for _, u := range []string{"root", "bob"} {
		args := []string{"user", "create", "--username", u, "--email", u + "@example.com", "--password-stdin"}
		if u == "root" {
			args = append(args, "--admin")
		}
		if _, _, err := runOut(t, env, "first-password\n", args...); err != nil {
			t.Fatal(err)
		}
	}
	s := startServe(t, env)
	old := mustLogin(t, s.URL, "root", "first-password")

	stdout, _, err := runOut(t, env, "", "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ID\s+USERNAME\s+EMAIL\s+ACTIVE\s+ADMIN\n1\s+root\s+root@example.com\s+yes\s+yes\n2\s+bob\s+bob@example.com\s+yes\s+no\n$`).MatchString(stdout) {
		t.Errorf("user list:\n%s", stdout)
	}
	if stdout, _, _ = runOut(t, env, "", "user", "list", "--admins"); strings.Contains(stdout, "bob") || !strings.Contains(stdout, "root") {
		t.Errorf("user list --admins:\n%s", stdout)
	}

	// set-password reads stdin, revokes the user's tokens and is recorded.
	if _, _, err := runOut(t, env, "short\n", "user", "set-password", "--username", "root"); err == nil || exitCode(err) != 2 {
		t.Errorf("a too short password: %v, want a usage error", err)
	}
	if stdout, _, err = runOut(t, env, "second-password\n", "user", "set-password", "--username", "root@example.com"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "set the password of user 1 (root)") {
		t.Errorf("set-password said %q", stdout)
	}
	if st, _ := me(t, s.URL, old); st != http.StatusUnauthorized {
		t.Errorf("the old session after set-password: GET /users/me = %d, want 401", st)
	}
	if st, _ := login(t, s.URL, "root", "first-password"); st != http.StatusUnauthorized {
		t.Errorf("login with the old password = %d, want 401", st)
	}
	mustLogin(t, s.URL, "root", "second-password")
	var data string
	if err := openRaw(t, db).QueryRow("SELECT data FROM activities WHERE verb = 'user.updated' AND object_id = '1' AND actor_id = 0").Scan(&data); err != nil || !strings.Contains(data, `"password"`) {
		t.Errorf("the password change is not in the activity log: %v %q", err, data)
	}
	_, _, err = runOut(t, env, "x-password-9\n", "user", "set-password", "--username", "nobody")
	if err == nil || exitCode(err) != 1 {
		t.Errorf("set-password of an unknown user: %v, want exit status 1", err)
	}

	// delete: bob goes; the last active admin stays.
	if stdout, _, err = runOut(t, env, "", "user", "delete", "--username", "bob"); err != nil || !strings.Contains(stdout, "deleted user 2 (bob)") {
		t.Errorf("user delete bob: %v %q", err, stdout)
	}
	if st, _ := login(t, s.URL, "bob", "first-password"); st != http.StatusUnauthorized {
		t.Errorf("bob logs in after delete: %d", st)
	}
	if _, _, err = runOut(t, env, "", "user", "delete", "--username", "root"); err == nil || !strings.Contains(err.Error(), "no active admin") {
		t.Errorf("deleting the last admin: %v", err)
	}
	_, _, err = runOut(t, env, "", "user", "delete")
	checkUsageError(t, err)
}

// TestServeStartupMessages: the start-up log names the console and docs
// URLs, serve warns when no active admin exists and when
// ROSTER_ADMIN_PASSWORD is ignored, and / redirects to the console.
func TestServeStartupMessages(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	if _, _, err := runOut(t, nil, "", "user", "create", "--username", "bob", "--email", "bob@example.com", "--db", db); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"ROSTER_DB": db, "ROSTER_ADMIN_PASSWORD": "ignored-password", "ROSTER_LOG_FORMAT": "text"})
	log := s.stderr.String()
	for _, want := range []string{"console=" + s.URL + "/admin/", "docs=" + s.URL + "/api/v3/docs", "level=WARN msg=\"no active admin",
		"level=WARN msg=\"ROSTER_ADMIN_PASSWORD is ignored"} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(s.stdout.String(), "password") {
		t.Errorf("serve created an admin in a database with users: %q", s.stdout.String())
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "admin/" {
		t.Errorf("GET / = %d Location %q, want 302 to admin/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestProgressOutput: seed's progress is plain lines without carriage
// returns where stderr is not a terminal, and redraws on a terminal.
func TestProgressOutput(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	_, stderr, err := runOut(t, nil, "", "seed", "--db", db, "--users", "3000")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "\x1b") || stderr == "" || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("seed progress in a log has redraws: %q", stderr)
	}
	if n := strings.Count(stderr, "\n"); n > 3 {
		t.Errorf("seed wrote %d progress lines in a few seconds:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "100%") {
		t.Errorf("the last progress line is missing: %q", stderr)
	}
	var tty bytes.Buffer
	p := &progress{w: &tty, tty: true, interval: time.Hour, start: time.Now()}
	p.status("a")
	p.status("b")
	p.end()
	if tty.String() != "\ra\x1b[K\rb\x1b[K\n" {
		t.Errorf("terminal progress = %q", tty.String())
	}
	var plain bytes.Buffer
	p = &progress{w: &plain, interval: time.Hour, start: time.Now()}
	for _, s := range []string{"a", "b", "c"} {
		p.status(s)
	}
	p.end()
	if plain.String() != "a\nc\n" {
		t.Errorf("plain progress = %q, want the first and the last status", plain.String())
	}
	// migrate-data's "verified" lines are results: always written.
	plain.Reset()
	p = &progress{w: &plain, interval: time.Hour, start: time.Now()}
	fmt.Fprint(p, "users: 1/2 rows\nusers: 2/2 rows\nverified users: 2 rows\n")
	p.end()
	if plain.String() != "users: 1/2 rows\nusers: 2/2 rows\nverified users: 2 rows\n" {
		t.Errorf("plain progress with results = %q", plain.String())
	}
}

// TestMigrateDataTakesDB: migrate-data reads its source from --db or
// ROSTER_DB when that names SQLite, and its target when it names PostgreSQL.
func TestMigrateDataTakesDB(t *testing.T) {
	pgURL := pgtest.URL(t)
	src := filepath.Join(t.TempDir(), "src.db")
	if _, _, err := runOut(t, nil, "", "user", "create", "--username", "ann", "--email", "ann@example.com", "--db", src); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runOut(t, map[string]string{"ROSTER_DB": src}, "", "migrate-data", "--to", pgURL, "--truncate")
	if err != nil || !strings.Contains(stdout, "copied "+src) {
		t.Fatalf("ROSTER_DB=sqlite migrate-data --to: %v %q %q", err, stdout, stderr)
	}
	stdout, stderr, err = runOut(t, map[string]string{"ROSTER_DB": pgURL}, "", "migrate-data", "--from", src, "--truncate")
	if err != nil || !strings.Contains(stdout, "copied "+src) {
		t.Fatalf("ROSTER_DB=postgres migrate-data --from: %v %q %q", err, stdout, stderr)
	}
	stdout, _, err = runOut(t, map[string]string{"ROSTER_DB": pgURL}, "", "user", "list")
	if err != nil || !strings.Contains(stdout, "ann@example.com") {
		t.Errorf("the copy lacks ann: %v\n%s", err, stdout)
	}
}
