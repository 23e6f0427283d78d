package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/sqlite"
)

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Issue 16, item 12: /metrics was public, /debug/pprof/cmdline showed the
// database URL given on the command line, and the SQLite file was 0644.
func TestServeHardening(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "roster.db")
	dbFile := filepath.Join(dir, "db-url")
	if err := os.WriteFile(dbFile, []byte(db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics, pprofAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, map[string]string{"ROSTER_ADMIN_PASSWORD": "hardening-pass", "ROSTER_DB_FILE": dbFile},
		"--metrics-addr", metrics, "--pprof-addr", pprofAddr)

	if st, _ := getStatus(t, s.URL+"/metrics"); st != http.StatusNotFound {
		t.Errorf("/metrics on the public port = %d, want 404 with --metrics-addr", st)
	}
	if st, body := getStatus(t, "http://"+metrics+"/metrics"); st != http.StatusOK || !strings.Contains(body, "roster_http_requests_total") {
		t.Errorf("/metrics on --metrics-addr = %d", st)
	}
	if st, _ := getStatus(t, "http://"+pprofAddr+"/debug/pprof/cmdline"); st != http.StatusNotFound {
		t.Errorf("/debug/pprof/cmdline = %d, want 404", st)
	}
	if st, _ := getStatus(t, "http://"+pprofAddr+"/debug/pprof/"); st != http.StatusOK {
		t.Errorf("/debug/pprof/ = %d, want 200", st)
	}
	// The database came from ROSTER_DB_FILE, and was created 0600.
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatalf("the database named in ROSTER_DB_FILE was not created: %v", err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("database file mode = %o, want 600", m)
	}
	mustLogin(t, s.URL, "admin", "hardening-pass")

	// --db-file on any command; a missing file is a usage error.
	if err := run(context.Background(), []string{"migrate", "--db-file", dbFile}, getenv(nil), strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Errorf("migrate --db-file: %v", err)
	}
	checkUsageError(t, run(context.Background(), []string{"migrate", "--db-file", filepath.Join(dir, "none")}, getenv(nil), strings.NewReader(""), io.Discard, io.Discard))
	checkUsageError(t, run(context.Background(), []string{"migrate"}, getenv(map[string]string{"ROSTER_DB_FILE": filepath.Join(dir, "none")}), strings.NewReader(""), io.Discard, io.Discard))
	for _, args := range [][]string{
		{"serve", "--db", db, "--public-url", "ftp://x"},
		{"serve", "--db", db, "--trusted-proxies", "10.0.0.0/8,nonsense"},
		{"serve", "--db", db, "--login-failures-per-minute", "-1"},
		{"serve", "--db", db, "--activity-burst", "0"},
	} {
		checkUsageError(t, run(context.Background(), args, getenv(nil), strings.NewReader(""), io.Discard, io.Discard))
	}
}

// Issue 16, item 2: `roster token create --username bob@example.com` made
// a token for the user whose username was bob@example.com, not for Bob.
func TestTokenCreateAmbiguousName(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "roster.db")
	do := func(args ...string) (string, error) {
		var stdout strings.Builder
		err := run(ctx, append(args, "--db", db), getenv(nil), strings.NewReader(""), &stdout, io.Discard)
		return stdout.String(), err
	}
	if _, err := do("user", "create", "--username", "bob", "--email", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := do("user", "create", "--username", "bob@example.com", "--email", "alice@example.com"); err == nil {
		t.Fatal("user create accepted another user's email as username")
	}
	if _, err := do("user", "create", "--username", "alice", "--email", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	// Data from before the rule: alice's username is bob's email.
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteDB().Exec("UPDATE users SET username = 'bob@example.com', username_fold = 'bob@example.com' WHERE username = 'alice'"); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if out, err := do("token", "create", "--username", "BOB@example.com"); err == nil || out != "" {
		t.Fatalf("token create for an ambiguous name = %q, %v; want an error", out, err)
	}
	if out, err := do("token", "create", "--username", "bob"); err != nil || out == "" {
		t.Fatalf("token create --username bob = %q, %v", out, err)
	}
}
