package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to inspect files the command wrote
)

const adminLinePrefix = `Created the admin user "admin" with password: `

// syncBuffer is an io.Writer that the test may read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// getenv returns a getenv func that sees only m, never the real environment.
func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// server is one `roster serve` running in this process through run.
type server struct {
	URL            string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

// startServe runs `serve` on a free port with the given environment and
// waits until /healthz answers. The server stops with the test.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{URL: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"serve", "--addr", addr}, args...)
	go func() { s.done <- run(ctx, args, getenv(env), strings.NewReader(""), s.stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop within 15 s of its context ending")
		}
	})
	waitHealthy(t, s.URL, s.done, s.stderr)
	return s
}

// waitHealthy polls /healthz until it answers 200; done reports an early exit.
func waitHealthy(t *testing.T, url string, done <-chan error, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited before it was healthy: %v\nstderr:\n%s", err, stderr)
		default:
		}
		resp, err := httpClient.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer 200 within 15 s; stderr:\n%s", url, stderr)
}

// stop cancels the server's context (what SIGTERM does in main) and returns
// run's error, failing if it takes more than a few seconds.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5 s of the context ending")
		return nil
	}
}

// login posts credentials and returns the status and, on 201, the token.
func login(t *testing.T, url, username, password string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := httpClient.Post(url+"/api/v3/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if resp.StatusCode == http.StatusCreated {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, out.Token
}

// me returns the status and body of GET /api/v3/users/me with token.
func me(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/api/v3/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func mustLogin(t *testing.T, url, username, password string) string {
	t.Helper()
	status, token := login(t, url, username, password)
	if status != http.StatusCreated || token == "" {
		t.Fatalf("login as %s: status %d, want 201 with a token", username, status)
	}
	return token
}

func TestServeBootstrapsAdminOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	const pw = "first-start-secret"
	env := map[string]string{"ROSTER_ADMIN_PASSWORD": pw}

	s := startServe(t, env, "--db", db)
	line := adminLinePrefix + pw + "\n"
	if n := strings.Count(s.stdout.String(), line); n != 1 {
		t.Errorf("stdout has the admin password line %d times, want once:\n%s", n, s.stdout)
	}
	token := mustLogin(t, s.URL, "admin", pw)
	status, body := me(t, s.URL, token)
	if status != http.StatusOK || body["username"] != "admin" || body["isAdmin"] != true {
		t.Errorf("GET /users/me = %d %v, want the admin", status, body)
	}
	if status, _ := login(t, s.URL, "admin", "wrong-password"); status != http.StatusUnauthorized {
		t.Errorf("login with a wrong password: %d, want 401", status)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("run returned %v after the context ended, want nil", err)
	}
	if strings.Contains(s.stderr.String(), pw) {
		t.Error("the logs contain the admin password")
	}
	if strings.Contains(s.stderr.String(), token) {
		t.Error("the logs contain a token")
	}

	// Second start of the same database: no new admin, no password printed,
	// even with a different ROSTER_ADMIN_PASSWORD.
	s2 := startServe(t, map[string]string{"ROSTER_ADMIN_PASSWORD": "another-password"}, "--db", db)
	if strings.Contains(s2.stdout.String(), "password") {
		t.Errorf("second start printed a password:\n%s", s2.stdout)
	}
	mustLogin(t, s2.URL, "admin", pw)
	if status, _ := login(t, s2.URL, "admin", "another-password"); status != http.StatusUnauthorized {
		t.Errorf("second start changed the admin password (login status %d)", status)
	}
	if err := s2.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestServeRandomAdminPassword(t *testing.T) {
	s := startServe(t, map[string]string{}, "--db", filepath.Join(t.TempDir(), "roster.db"))
	out := s.stdout.String()
	if strings.Count(out, adminLinePrefix) != 1 {
		t.Fatalf("stdout = %q, want one admin password line", out)
	}
	pw := strings.TrimSpace(strings.SplitN(out[strings.Index(out, adminLinePrefix)+len(adminLinePrefix):], "\n", 2)[0])
	if len(pw) < 16 {
		t.Errorf("random admin password %q is shorter than 16 characters", pw)
	}
	mustLogin(t, s.URL, "admin", pw)
}

func TestServeBadAdminPassword(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--addr", freeAddr(t), "--db", filepath.Join(t.TempDir(), "roster.db")},
		getenv(map[string]string{"ROSTER_ADMIN_PASSWORD": "short"}), strings.NewReader(""), io.Discard, io.Discard)
	checkUsageError(t, err)
}

// slowLogin starts a login whose body arrives in two parts, so that the
// request is in flight (its handler reading the body) until finish is called.
// finish sends the rest and returns the response status.
func slowLogin(t *testing.T, url, username, password string) (finish func() int) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	head := fmt.Sprintf("POST /api/v3/auth/token HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(conn, head+string(body[:5])); err != nil {
		t.Fatal(err)
	}
	return func() int {
		t.Helper()
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := conn.Write(body[5:]); err != nil {
			t.Fatalf("writing the rest of the in-flight request: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the response of the in-flight request: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

func TestServeShutdownFinishesInFlightRequests(t *testing.T) {
	const pw = "shutdown-secret"
	s := startServe(t, map[string]string{"ROSTER_ADMIN_PASSWORD": pw}, "--db", filepath.Join(t.TempDir(), "roster.db"))
	finish := slowLogin(t, s.URL, "admin", pw)
	time.Sleep(200 * time.Millisecond) // let the server read the request head
	s.cancel()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-s.done:
		t.Fatalf("run returned (%v) while a request was in flight", err)
	default:
	}
	if status := finish(); status != http.StatusCreated {
		t.Errorf("in-flight login during shutdown: status %d, want 201", status)
	}
	start := time.Now()
	if err := s.stop(t); err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("run took %v to return after the last request finished", d)
	}
	if _, err := httpClient.Get(s.URL + "/healthz"); err == nil {
		t.Error("the server still answers after run returned")
	}
}

// buildRoster compiles the command into a temporary directory.
func buildRoster(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "roster")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the process environment without any ROSTER_ variable, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROSTER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func TestBinarySIGTERM(t *testing.T) {
	bin := buildRoster(t)
	addr := freeAddr(t)
	url := "http://" + addr
	const pw = "sigterm-secret"
	var stdout, stderr syncBuffer
	cmd := exec.Command(bin, "serve", "--addr", addr, "--db", filepath.Join(t.TempDir(), "roster.db"))
	cmd.Env = cleanEnv("ROSTER_ADMIN_PASSWORD=" + pw)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	waitHealthy(t, url, done, &stderr)
	mustLogin(t, url, "admin", pw)

	finish := slowLogin(t, url, "admin", pw)
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if status := finish(); status != http.StatusCreated {
		t.Errorf("in-flight login during SIGTERM: status %d, want 201", status)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM\nstderr:\n%s", stderr.String())
	}
	if n := strings.Count(stdout.String(), adminLinePrefix+pw+"\n"); n != 1 {
		t.Errorf("stdout has the admin password line %d times, want once:\n%s", n, stdout.String())
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("stderr mentions a panic:\n%s", stderr.String())
	}
}

// badInvocations are command lines that must fail with status 2 and a
// one-line message. "$DIR" stands for a fresh temporary directory.
var badInvocations = map[string][]string{
	"unknown flag":           {"serve", "--nope"},
	"unknown flag value":     {"serve", "--log-format", "xml", "--db", "$DIR/roster.db"},
	"unknown command":        {"frobnicate"},
	"unknown user command":   {"user", "frob"},
	"unknown token command":  {"token"},
	"unexpected argument":    {"migrate", "--db", "$DIR/roster.db", "extra"},
	"mysql url":              {"serve", "--db", "mysql://x"},
	"postgres url":           {"serve", "--db", "postgres://roster:secret@localhost:5432/roster?sslmode=disable"},
	"postgresql url":         {"migrate", "--db", "postgresql://localhost/roster"},
	"empty sqlite path":      {"migrate", "--db", "sqlite:"},
	"empty db":               {"migrate", "--db", ""},
	"missing directory":      {"serve", "--db", "$DIR/no/such/dir/roster.db"},
	"missing directory url":  {"migrate", "--db", "sqlite:$DIR/nope/roster.db"},
	"db is a directory":      {"migrate", "--db", "$DIR"},
	"bad listen address":     {"serve", "--db", "$DIR/roster.db", "--addr", "127.0.0.1:notaport"},
	"user without username":  {"user", "create", "--email", "a@example.com", "--db", "$DIR/roster.db"},
	"user with bad email":    {"user", "create", "--username", "a", "--email", "not-an-email", "--db", "$DIR/roster.db"},
	"token without username": {"token", "create", "--db", "$DIR/roster.db"},
	"token with bad ttl":     {"token", "create", "--username", "admin", "--ttl", "-1h", "--db", "$DIR/roster.db"},
	"token ttl not duration": {"token", "create", "--username", "admin", "--ttl", "soon", "--db", "$DIR/roster.db"},
}

// expand replaces $DIR in args with a new temporary directory.
func expand(t *testing.T, args []string) []string {
	dir := t.TempDir()
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "$DIR", dir)
	}
	return out
}

func checkUsageError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("run returned nil, want an error")
	}
	if code := exitCode(err); code != 2 {
		t.Errorf("exitCode(%v) = %d, want 2", err, code)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || msg == "" {
		t.Errorf("error message %q is not one non-empty line", msg)
	}
}

func TestBadInvocations(t *testing.T) {
	for name, args := range badInvocations {
		t.Run(name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), expand(t, args), getenv(nil), strings.NewReader(""), &stdout, io.Discard)
			checkUsageError(t, err)
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestBinaryBadInvocations(t *testing.T) {
	bin := buildRoster(t)
	for name, args := range badInvocations {
		t.Run(name, func(t *testing.T) {
			args := expand(t, args)
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Env = cleanEnv()
			cmd.Dir = t.TempDir() // a stray default roster.db would land here
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("roster %q: %v, want exit status 2", args, err)
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || !strings.HasPrefix(out, "roster: ") {
				t.Errorf("stderr = %q, want exactly one line starting with \"roster: \"", out)
			}
			if strings.Contains(strings.ToLower(out), "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("stderr mentions a panic: %q", out)
			}
			if strings.Contains(out, "secret") {
				t.Errorf("stderr shows the database password: %q", out)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// migrationCount is the number of migration files the store embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("../../sqlite/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestMigrate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	for i := range 2 {
		var stdout bytes.Buffer
		if err := run(context.Background(), []string{"migrate", "--db", db}, getenv(nil), strings.NewReader(""), &stdout, io.Discard); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
		if stdout.String() != "migrations applied\n" {
			t.Errorf("migrate run %d: stdout %q", i+1, stdout.String())
		}
	}
	raw := openRaw(t, db)
	var versions, users int
	if err := raw.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); versions != want {
		t.Errorf("schema_migrations has %d rows, want %d", versions, want)
	}
	if err := raw.QueryRow("SELECT count(*) FROM users").Scan(&users); err != nil {
		t.Fatalf("users table: %v", err)
	}
	if users != 0 {
		t.Errorf("migrate created %d users, want none", users)
	}
}

func TestUserCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	userCreate := func(stdin string, args ...string) (string, error) {
		var stdout bytes.Buffer
		args = append([]string{"user", "create", "--db", db}, args...)
		err := run(context.Background(), args, getenv(nil), strings.NewReader(stdin), &stdout, io.Discard)
		return stdout.String(), err
	}
	out, err := userCreate("correct horse battery\n", "--username", "alice", "--email", "alice@example.com",
		"--first", "Alice", "--last", "Liddell", "--admin", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^created user \d+ \(alice\)\n$`).MatchString(out) {
		t.Errorf("stdout = %q", out)
	}
	// A password without a final newline, and a user without --admin.
	if _, err := userCreate("bob-password", "--username", "bob", "--email", "bob@example.com", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	// No password: the user exists but cannot log in.
	if _, err := userCreate("", "--username", "carol", "--email", "carol@example.com"); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		stdin string
		args  []string
		code  int
	}{
		"duplicate username": {"", []string{"--username", "ALICE", "--email", "other@example.com"}, 1},
		"duplicate email":    {"", []string{"--username", "alice2", "--email", "Alice@Example.com"}, 1},
		"missing username":   {"", []string{"--email", "x@example.com"}, 2},
		"missing email":      {"", []string{"--username", "x"}, 2},
		"short password":     {"short\n", []string{"--username", "x", "--email", "x@example.com", "--password-stdin"}, 2},
		"invalid username":   {"", []string{"--username", "a b", "--email", "x@example.com"}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := userCreate(tc.stdin, tc.args...)
			if err == nil {
				t.Fatalf("user create %v succeeded (%q), want an error", tc.args, out)
			}
			if code := exitCode(err); code != tc.code {
				t.Errorf("exitCode(%v) = %d, want %d", err, code, tc.code)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error %q is not one line", err)
			}
			if strings.Contains(name, "duplicate") && !strings.Contains(err.Error(), strings.TrimPrefix(name, "duplicate ")) {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}

	// A database that already has users gets no bootstrap admin.
	s := startServe(t, map[string]string{"ROSTER_ADMIN_PASSWORD": "unused-password"}, "--db", db)
	if strings.Contains(s.stdout.String(), "password") {
		t.Errorf("serve printed a password for a database with users:\n%s", s.stdout)
	}
	token := mustLogin(t, s.URL, "alice", "correct horse battery")
	status, body := me(t, s.URL, token)
	if status != http.StatusOK || body["username"] != "alice" || body["email"] != "alice@example.com" ||
		body["firstName"] != "Alice" || body["lastName"] != "Liddell" || body["isAdmin"] != true || body["isActive"] != true {
		t.Errorf("GET /users/me = %d %v", status, body)
	}
	token = mustLogin(t, s.URL, "bob@example.com", "bob-password")
	if status, body := me(t, s.URL, token); status != http.StatusOK || body["isAdmin"] != false {
		t.Errorf("bob: GET /users/me = %d %v, want a non-admin", status, body)
	}
	for _, pw := range []string{"", "correct horse battery", "anything-at-all"} {
		if status, _ := login(t, s.URL, "carol", pw); status == http.StatusCreated {
			t.Errorf("carol, created without a password, logged in with %q", pw)
		}
	}
	if status, _ := login(t, s.URL, "admin", "unused-password"); status == http.StatusCreated {
		t.Error("a bootstrap admin was created")
	}
}

func TestTokenCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	s := startServe(t, map[string]string{"ROSTER_ADMIN_PASSWORD": "token-test-password"}, "--db", db)
	tokenCreate := func(args ...string) (string, error) {
		var stdout bytes.Buffer
		args = append([]string{"token", "create", "--db", db}, args...)
		err := run(context.Background(), args, getenv(nil), strings.NewReader(""), &stdout, io.Discard)
		return stdout.String(), err
	}
	// The CLI writes to the database while the server holds it open.
	out, err := tokenCreate("--username", "admin", "--ttl", "1h")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^rst_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("stdout = %q, want only the token on one line", out)
	}
	token := strings.TrimSuffix(out, "\n")
	status, body := me(t, s.URL, token)
	if status != http.StatusOK || body["username"] != "admin" {
		t.Errorf("GET /users/me with the CLI token = %d %v", status, body)
	}
	// By email, default TTL; each call makes a new token.
	out2, err := tokenCreate("--username", "ADMIN@roster.invalid")
	if err != nil {
		t.Fatal(err)
	}
	if out2 == out {
		t.Error("two token create calls printed the same token")
	}
	if status, _ := me(t, s.URL, strings.TrimSpace(out2)); status != http.StatusOK {
		t.Errorf("GET /users/me with the second token = %d", status)
	}
	if status, _ := me(t, s.URL, token+"x"); status != http.StatusUnauthorized {
		t.Errorf("GET /users/me with a wrong token = %d, want 401", status)
	}

	out, err = tokenCreate("--username", "nobody")
	if err == nil || out != "" {
		t.Errorf("token for an unknown user: %q, %v; want an error and no output", out, err)
	} else if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error %q is not one line", err)
	}

	// A scoped token does what its scopes allow and gets 403 insufficient_scope otherwise.
	out, err = tokenCreate("--username", "admin", "--scopes", "activities:write,users:read", "--name", "ci-bot")
	if err != nil {
		t.Fatal(err)
	}
	scoped := strings.TrimSpace(out)
	if status, _ := me(t, s.URL, scoped); status != http.StatusOK {
		t.Errorf("GET /users/me with users:read = %d", status)
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v3/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+scoped)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || res.Header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="workspaces:read"` {
		t.Errorf("GET /workspaces without workspaces:read = %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	// An empty --scopes (an unset shell variable, say) is refused, not
	// taken for the default of every scope.
	for _, bad := range [][]string{{"--scopes", "users:admin"}, {"--ttl", "9000h"}, {"--name", ""},
		{"--scopes", ""}, {"--scopes", ","}, {"--scopes", " , "}} {
		if out, err := tokenCreate(append([]string{"--username", "admin"}, bad...)...); err == nil || out != "" {
			t.Errorf("token create %v: %q, %v; want a usage error", bad, out, err)
		}
	}
}

func TestRosterDBEnv(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "from-env.db")
	if err := run(context.Background(), []string{"migrate"}, getenv(map[string]string{"ROSTER_DB": db}), strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("migrate with ROSTER_DB did not create %s: %v", db, err)
	}
	// The sqlite: form, in the environment.
	db2 := filepath.Join(dir, "url-env.db")
	if err := run(context.Background(), []string{"migrate"}, getenv(map[string]string{"ROSTER_DB": "sqlite:" + db2}), strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db2); err != nil {
		t.Fatalf("migrate with ROSTER_DB=sqlite:... did not create %s: %v", db2, err)
	}
	// --db wins over ROSTER_DB.
	db3 := filepath.Join(dir, "flag.db")
	if err := run(context.Background(), []string{"migrate", "--db", db3}, getenv(map[string]string{"ROSTER_DB": filepath.Join(dir, "ignored.db")}), strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ignored.db")); err == nil {
		t.Error("ROSTER_DB was used although --db was given")
	}
	// A bad ROSTER_DB is a usage error like a bad --db.
	err := run(context.Background(), []string{"migrate"}, getenv(map[string]string{"ROSTER_DB": "mysql://x"}), strings.NewReader(""), io.Discard, io.Discard)
	checkUsageError(t, err)

	// serve, user create and token create all use ROSTER_DB; serve also ROSTER_ADDR.
	db4 := filepath.Join(dir, "serve-env.db")
	env := map[string]string{"ROSTER_DB": db4, "ROSTER_ADMIN_PASSWORD": "env-password"}
	if err := run(context.Background(), []string{"user", "create", "--username", "eve", "--email", "eve@example.com", "--password-stdin"},
		getenv(env), strings.NewReader("eve-password\n"), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env["ROSTER_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	stderr := &syncBuffer{}
	go func() { done <- run(ctx, []string{"serve"}, getenv(env), strings.NewReader(""), io.Discard, stderr) }()
	waitHealthy(t, "http://"+addr, done, stderr)
	mustLogin(t, "http://"+addr, "eve", "eve-password")
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "--username", "eve"}, getenv(env), strings.NewReader(""), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if status, body := me(t, "http://"+addr, strings.TrimSpace(stdout.String())); status != http.StatusOK || body["username"] != "eve" {
		t.Errorf("token from ROSTER_DB: GET /users/me = %d %v", status, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat("roster.db"); err == nil {
		t.Error("a test wrote roster.db in the working directory")
	}
}
