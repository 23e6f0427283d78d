package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/httpapi"
)

// logBuffer collects the server's log output; handlers write it from
// their own goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHealthAndReadiness(t *testing.T) { eachStore(t, testHealthAndReadiness) }

func testHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		r := e.do("GET", path, "", nil).expect(t, http.StatusOK)
		if b := r.JSON(t); b["status"] != "ok" {
			t.Errorf("%s = %s", path, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s Content-Type = %q", path, ct)
		}
	}
	e.do("POST", "/healthz", "", nil).expect(t, http.StatusMethodNotAllowed)
}

func TestMetrics(t *testing.T) { eachStore(t, testMetrics) }

func testMetrics(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/api/v3/users/me", e.AdminToken, nil).expect(t, http.StatusOK)
	e.do("GET", "/api/v3/users/me", e.AdminToken, nil).expect(t, http.StatusOK)
	e.do("GET", "/api/v3/users/me", "", nil).expect(t, http.StatusUnauthorized)
	e.do("GET", "/api/v3/users/42", e.AdminToken, nil).expect(t, http.StatusNotFound)

	r := e.do("GET", "/metrics", "", nil).expect(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	body := string(r.Body)
	for _, want := range []string{
		"# TYPE roster_http_requests_total counter",
		`roster_http_requests_total{code="200",route="GET /api/v3/users/me"} 2`,
		`roster_http_requests_total{code="401",route="GET /api/v3/users/me"} 1`,
		// Labelled by pattern, not by path: ids do not make new series.
		`roster_http_requests_total{code="404",route="GET /api/v3/users/{id}"} 1`,
		"roster_http_request_duration_seconds_bucket{route=\"GET /api/v3/users/me\"",
		// The instance's metrics (app.New).
		`roster_build_info{goversion="go1.`,
		"roster_streams_open 0",
		"roster_stream_deliveries_total ",
		"roster_stream_drops_total 0",
		`go_sql_open_connections{db_name="write"}`,
		`roster_db_query_duration_seconds_count{op="query"}`,
		`roster_db_query_duration_seconds_count{op="exec"}`,
		`roster_logins_total{result="locked"} 0`,
		`roster_search_counts_total{result="stored"} 0`,
		`roster_search_counts_total{result="failed"} 0`,
		"roster_db_read_waiting 0",
		"roster_db_read_waits_total ",
		"roster_db_read_wait_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "/api/v3/users/42") {
		t.Error("metrics are labelled by a raw path")
	}
}

func TestOpenAPIServedWithoutAuth(t *testing.T) { eachStore(t, testOpenAPIServedWithoutAuth) }

func testOpenAPIServedWithoutAuth(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v3/openapi.json", "", nil).expect(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("openapi.json is not a JSON object: %v", err)
	}
	if !bytes.Equal(r.Body, api.OpenAPI) {
		t.Error("served document differs from the embedded one")
	}
	// A token, even a bad one, is not needed and does not get in the way.
	e.do("GET", "/api/v3/openapi.json", "garbage", nil).expect(t, http.StatusOK)
}

func TestLogsHoldNoSecrets(t *testing.T) { eachStore(t, testLogsHoldNoSecrets) }

func testLogsHoldNoSecrets(t *testing.T) {
	var logs logBuffer
	e := newEnvWith(t, httpapi.Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	const pw, wrongPw, newPw = "Kept-Secret-Pw-1", "Wrong-Secret-Pw-2", "Next-Secret-Pw-3"
	const fakeToken = "rst_SECRETISHqueryValue0123456789"
	user := e.createUser("lily", false, pw)

	tok := e.loginToken("lily", pw)
	e.do("GET", "/api/v3/users/me?access_token="+tok, tok, nil).expect(t, http.StatusOK)
	expectUnauthorized(t, e.do("GET", "/api/v3/users/me?access_token="+fakeToken, "", nil))
	expectUnauthorized(t, e.do("GET", "/api/v3/users/me", fakeToken, nil))
	expectUnauthorized(t, e.login("lily", wrongPw))
	expectUnauthorized(t, e.login("nobody", wrongPw))
	e.do("PATCH", "/api/v3/users/"+strconv.FormatInt(user.ID, 10), tok,
		map[string]any{"password": newPw, "currentPassword": pw}).expect(t, http.StatusOK)
	e.do("PATCH", "/api/v3/users/"+strconv.FormatInt(user.ID, 10), tok,
		map[string]any{"password": "short", "currentPassword": wrongPw}).expect(t, http.StatusBadRequest)
	e.do("DELETE", "/api/v3/auth/token", tok, nil).expect(t, http.StatusNoContent)

	out := logs.String()
	// The log is wired: each request left a line.
	for _, want := range []string{`"route":"POST /api/v3/auth/token"`, `"route":"GET /api/v3/users/me"`,
		`"route":"PATCH /api/v3/users/{id}"`, `"route":"DELETE /api/v3/auth/token"`, `"status":401`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for name, secret := range map[string]string{"password": pw, "wrong password": wrongPw, "new password": newPw,
		"token": tok, "token fragment": tok[4:20], "query token": fakeToken, "query token body": fakeToken[4:]} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains the %s:\n%s", name, out)
		}
	}
	if strings.Contains(out, "access_token") {
		t.Errorf("log shows the access_token parameter:\n%s", out)
	}
}

// TestLoginMetricsAndLogs: logins are counted by result, and a failed one
// is logged with the login name's hash, never the name, and the client
// address after trusted proxies; a lockout is counted.
func TestLoginMetricsAndLogs(t *testing.T) { eachStore(t, testLoginMetricsAndLogs) }

func testLoginMetricsAndLogs(t *testing.T) {
	var logs logBuffer
	trusted, _ := httpapi.ParseTrustedProxies("127.0.0.1,::1")
	e := newEnvWith(t, httpapi.Config{TrustedProxies: trusted, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	e.createUser("mona", false, "mona-password")
	e.login("mona", "mona-password").expect(t, http.StatusCreated)
	for range 20 { // the 20th failure locks the name and the account
		e.do("POST", "/api/v3/auth/token", "", map[string]any{"username": "mona", "password": "not-her-password"},
			"X-Forwarded-For", "203.0.113.7").expect(t, http.StatusUnauthorized)
	}
	e.login("mona", "mona-password").expect(t, http.StatusTooManyRequests)
	body := string(e.do("GET", "/metrics", "", nil).expect(t, http.StatusOK).Body)
	for _, want := range []string{`roster_logins_total{result="success"} 1`, `roster_logins_total{result="failure"} 20`,
		`roster_logins_total{result="locked"} 1`, "roster_login_lockouts_total 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var failed []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "login failed" {
			failed = append(failed, m)
		}
	}
	if len(failed) != 21 {
		t.Fatalf("%d \"login failed\" lines, want 21:\n%s", len(failed), logs.String())
	}
	first, last := failed[0], failed[20]
	if first["level"] != "WARN" || first["login_hash"] != roster.LoginNameHash("MONA") || first["client"] != "203.0.113.7" ||
		first["result"] != "failure" || first["request_id"] == "" {
		t.Errorf("failed login log line = %v", first)
	}
	if failed[19]["locked"] != true || last["result"] != "locked" || last["client"] != "127.0.0.1" {
		t.Errorf("the locking failure and the locked attempt: %v, %v", failed[19], last)
	}
	if strings.Contains(logs.String(), `"mona"`) || strings.Contains(logs.String(), "not-her-password") {
		t.Error("the log holds the login name or the password")
	}
}

// TestRequestID: every answer carries X-Request-Id, the request's log
// line has it, and a client's own id is taken only from a trusted proxy.
func TestRequestID(t *testing.T) { eachStore(t, testRequestID) }

func testRequestID(t *testing.T) {
	var logs logBuffer
	trusted, _ := httpapi.ParseTrustedProxies("127.0.0.1,::1")
	e := newEnvWith(t, httpapi.Config{TrustedProxies: trusted, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ids := map[string]bool{}
	for _, path := range []string{"/healthz", "/api/v3/users/me", "/nope"} {
		id := e.do("GET", path, "", nil).Header.Get("X-Request-Id")
		if len(id) < 16 || ids[id] {
			t.Errorf("GET %s: X-Request-Id %q, want a new random id", path, id)
		}
		ids[id] = true
		if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
			t.Errorf("the log line of GET %s lacks request_id %s:\n%s", path, id, logs.String())
		}
	}
	r := e.do("GET", "/healthz", "", nil, "X-Request-Id", "proxy-id-42")
	if got := r.Header.Get("X-Request-Id"); got != "proxy-id-42" {
		t.Errorf("a trusted proxy's X-Request-Id: answered %q", got)
	}
	if !strings.Contains(logs.String(), `"request_id":"proxy-id-42"`) {
		t.Error("the log lacks the proxy's request id")
	}
	if got := e.do("GET", "/healthz", "", nil, "X-Request-Id", "bad id\u2028").Header.Get("X-Request-Id"); got == "" || strings.Contains(got, "bad") {
		t.Errorf("a malformed X-Request-Id was echoed: %q", got)
	}

	// From an untrusted peer the header is ignored.
	u := newEnvWith(t, httpapi.Config{})
	if got := u.do("GET", "/healthz", "", nil, "X-Request-Id", "spoofed-id").Header.Get("X-Request-Id"); got == "spoofed-id" || got == "" {
		t.Errorf("an untrusted client's X-Request-Id: answered %q", got)
	}
}
