package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
)

// env is one test's Roster: a real HTTP server on a fresh store (SQLite,
// or PostgreSQL in the store matrix's PostgreSQL subtests).
type env struct {
	t      *testing.T
	db     *sqlstore.DB
	srv    *httptest.Server
	URL    string
	hasher *password.Hasher
	broker *stream.Broker
	clock  *envClock

	Admin      *roster.User
	AdminToken string
}

// newEnv starts a server on a new database with one admin ("admin",
// password "adminpass") and returns it; everything closes with the test.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, httpapi.Config{})
}

// newEnvWith is newEnv with extra server settings (a Logger, for one). The
// store, hasher and clock are filled in: the store and the server share
// e.clock, so moving that one clock moves token expiry and login lockouts.
func newEnvWith(t *testing.T, cfg httpapi.Config) *env {
	t.Helper()
	return newEnvStream(t, cfg, stream.Options{})
}

// newEnvStream is newEnvWith whose default broker (used when cfg.Broker is
// nil) is built on the env's database with opts: small revalidation
// intervals, queues or per-user caps for the stream tests.
func newEnvStream(t *testing.T, cfg httpapi.Config, opts stream.Options) *env {
	t.Helper()
	db := rostertest.Open(t)
	clock := &envClock{}
	db.SetClock(clock)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.ActivityRate == 0 {
		// The load and stream tests post hundreds of activities a second as
		// ordinary users; the per-user limit has tests of its own
		// (TestSecurityActivityRateLimit), which set it.
		cfg.ActivityRate = -1
	}
	s, err := rostertest.New(context.Background(), db, rostertest.Options{API: cfg, Stream: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &env{t: t, db: db, srv: s.HTTP, URL: s.URL, hasher: s.Hasher, broker: s.Broker, clock: clock}
	e.Admin = e.createUser("admin", true, "adminpass")
	e.AdminToken = e.token(e.Admin)
	return e
}

// envClock is an env's one clock: the wall clock until a test stops it on
// a clock of its own (use), race-free while the server and broker read it.
type envClock struct {
	c atomic.Pointer[roster.Clock]
}

func (c *envClock) Now() time.Time {
	if p := c.c.Load(); p != nil {
		return (*p).Now()
	}
	return time.Now().UTC()
}

// use makes c tell the time of clock from now on.
func (c *envClock) use(clock roster.Clock) { c.c.Store(&clock) }

// createUser stores a user directly (with a password when pw != "").
func (e *env) createUser(username string, admin bool, pw string) *roster.User {
	e.t.Helper()
	hash := ""
	if pw != "" {
		var err error
		if hash, err = e.hasher.Hash(context.Background(), pw); err != nil {
			e.t.Fatal(err)
		}
	}
	u := &roster.User{Username: username, Email: strings.ToLower(username) + "@example.com", IsActive: true, IsAdmin: admin,
		Timezone: "UTC", Locale: "en"}
	if err := e.db.CreateUser(context.Background(), 0, u, hash); err != nil {
		e.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// token makes a bearer token for u without going through login.
func (e *env) token(u *roster.User) string {
	e.t.Helper()
	secret, hash := roster.NewTokenSecret()
	if err := e.db.CreateToken(context.Background(), &roster.Token{UserID: u.ID, Hash: hash, Prefix: roster.TokenPrefix(secret), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// resp is a finished HTTP exchange.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
	// SCIM marks an answer of a /scim/v2 route, whose errors are SCIM
	// error bodies (RFC 7644 section 3.12) rather than problem+json.
	SCIM bool
}

// JSON decodes the body into a generic value.
func (r *resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return v
}

// do sends a request. body may be nil, a string (sent as is) or a value
// (JSON-encoded); headers are key, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: data, SCIM: strings.HasPrefix(path, "/scim/")}
}

// expect fails the test unless r has the status; problem bodies are checked
// for their RFC 9457 shape.
func (r *resp) expect(t *testing.T, status int) *resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if status >= 400 && r.SCIM {
		if ct := r.Header.Get("Content-Type"); ct != "application/scim+json" {
			t.Fatalf("SCIM error Content-Type = %q, want application/scim+json", ct)
		}
		p := r.JSON(t)
		if s, _ := p["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" ||
			p["status"] != strconv.Itoa(status) || p["detail"] == "" {
			t.Fatalf("bad SCIM error body: %s", r.Body)
		}
		return r
	}
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("error Content-Type = %q, want application/problem+json", ct)
		}
		p := r.JSON(t)
		if p["type"] != "about:blank" || p["status"] != float64(status) || p["title"] != http.StatusText(status) || p["detail"] == "" {
			t.Fatalf("bad problem body: %s", r.Body)
		}
	}
	return r
}
