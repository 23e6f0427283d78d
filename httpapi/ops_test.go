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
		`roster_http_requests_total{route="GET /api/v3/users/me",status="200"} 2`,
		`roster_http_requests_total{route="GET /api/v3/users/me",status="401"} 1`,
		// Labelled by pattern, not by path: ids do not make new series.
		`roster_http_requests_total{route="GET /api/v3/users/{id}",status="404"} 1`,
		"roster_http_request_duration_seconds_bucket{route=\"GET /api/v3/users/me\"",
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
