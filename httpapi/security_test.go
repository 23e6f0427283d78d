package httpapi_test

// Regression tests of the red-team findings of issue 16: each performs the
// attack as the issue describes it and checks that it no longer works.

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
)

// sqlCount runs a count query (with ? placeholders) on the env's database.
func (e *env) sqlCount(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.WriteDB().QueryRowContext(context.Background(), e.db.Dialect().Rebind(query), args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sqlExec runs a statement (with ? placeholders) on the env's database.
func (e *env) sqlExec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.db.WriteDB().ExecContext(context.Background(), e.db.Dialect().Rebind(query), args...); err != nil {
		e.t.Fatal(err)
	}
}

// loginFrom posts credentials with extra headers (X-Forwarded-For).
func (e *env) loginFrom(username, pw string, headers ...string) *resp {
	e.t.Helper()
	return e.do("POST", "/api/v3/auth/token", "", map[string]string{"username": username, "password": pw}, headers...)
}

func retryAfter(t *testing.T, r *resp) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}
	return n
}

// Item 1: failed logins with huge unknown names grew the database without
// bound (and a 2.8 KB name made PostgreSQL answer 500).
func TestSecurityLoginThrottleDiskExhaustion(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, httpapi.Config{LoginFailuresPerMinute: -1})
	clock := installClock(e)
	before := e.sqlCount("SELECT count(*) FROM login_throttle")
	for _, n := range []int{255, 2800, 300 << 10} {
		name := strings.Repeat("x", n)
		for range 3 {
			expectUnauthorized(t, e.login(name, "wrong-password"))
		}
	}
	if n := e.sqlCount("SELECT count(*) FROM login_throttle"); n != before {
		t.Fatalf("login_throttle has %d rows after logins with names over %d characters, want %d", n, roster.MaxLoginNameLen, before)
	}

	// A name that could exist is counted under a fixed-size key (never the
	// name itself), and the row expires.
	name := strings.Repeat("y", roster.MaxLoginNameLen)
	expectUnauthorized(t, e.login(name, "wrong-password"))
	if n := e.sqlCount("SELECT count(*) FROM login_throttle WHERE key LIKE ?", "%yyyy%"); n != 0 {
		t.Fatal("login_throttle stores the login name as typed")
	}
	if n := e.sqlCount("SELECT count(*) FROM login_throttle WHERE length(key) > 64"); n != 0 {
		t.Fatalf("%d login_throttle keys longer than 64 characters", n)
	}
	if n := e.sqlCount("SELECT count(*) FROM login_throttle"); n != before+1 {
		t.Fatalf("login_throttle has %d rows, want %d", n, before+1)
	}
	clock.Advance(roster.LoginThrottleTTL + time.Minute)
	expectUnauthorized(t, e.login("someone-else", "wrong-password"))
	if n := e.sqlCount("SELECT count(*) FROM login_throttle"); n != 1 {
		t.Fatalf("login_throttle has %d rows after the TTL passed, want only the new one", n)
	}

	// The name rows are bounded: past the bound, the oldest go.
	e.sqlExec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO login_throttle (key, failures, updated_at) SELECT 'login:filler' || i, 1, ? FROM n`,
		roster.MaxLoginThrottleNames, e.db.Dialect().Time(clock.Now()))
	clock.Advance(time.Second)
	expectUnauthorized(t, e.login("one-more", "wrong-password"))
	if n := e.sqlCount("SELECT count(*) FROM login_throttle WHERE key LIKE 'login:%'"); n != roster.MaxLoginThrottleNames {
		t.Fatalf("login_throttle has %d name rows, want the bound %d", n, roster.MaxLoginThrottleNames)
	}
	if k, _ := roster.LoginNameKey("one-more"); e.sqlCount("SELECT count(*) FROM login_throttle WHERE key = ?", k) != 1 {
		t.Fatal("the newest failure was evicted instead of the oldest")
	}
}

// Item 10: after 20 bad passwords for a username, its email answered 429
// while other emails answered 401, tying the email to the account.
func TestSecurityThrottleAnswerIndependentOfName(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, httpapi.Config{LoginFailuresPerMinute: -1})
	e.createUser("kara", false, "kara-pass-1")
	failLogins(t, e, "kara", roster.MaxLoginFailures)
	e.login("kara", "wrong-password").expect(t, http.StatusTooManyRequests)

	own := e.login("kara@example.com", "wrong-password")
	unknown := e.login("nobody@example.com", "wrong-password")
	expectUnauthorized(t, own)
	expectUnauthorized(t, unknown)
	if string(own.Body) != string(unknown.Body) {
		t.Fatalf("the account's email answers %s, an unknown email %s", own.Body, unknown.Body)
	}
	// The account stays locked: its right password does not get in.
	expectUnauthorized(t, e.login("kara@example.com", "kara-pass-1"))
	// Both names lock after the same number of their own failures.
	failLogins(t, e, "kara@example.com", roster.MaxLoginFailures-2)
	failLogins(t, e, "nobody@example.com", roster.MaxLoginFailures-1)
	e.login("kara@example.com", "wrong-password").expect(t, http.StatusTooManyRequests)
	e.login("nobody@example.com", "wrong-password").expect(t, http.StatusTooManyRequests)
}

// Item 3: a stolen token could guess its owner's password through
// currentPassword without limit, and change the email with no password.
func TestSecurityCurrentPasswordGuessesThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.createUser("lena", false, "lena-pass-1")
	tok := e.token(u)
	self := "/api/v3/users/" + itoa(u.ID)

	// Changing one's own username or email needs the current password.
	for _, body := range []map[string]any{{"email": "attacker@evil.test"}, {"username": "lena2"}} {
		fe := fieldErrors(t, e.do("PATCH", self, tok, body).expect(t, http.StatusBadRequest))
		expectFieldMessage(t, fe, "currentPassword", roster.MsgRequired)
	}
	// Other fields, and the current values, do not.
	e.do("PATCH", self, tok, map[string]any{"bio": "hi", "email": "lena@example.com"}).expect(t, http.StatusOK)

	for i := range roster.MaxLoginFailures {
		r := e.do("PATCH", self, tok, map[string]any{"email": "x@evil.test", "currentPassword": "guess-" + strconv.Itoa(i)})
		expectFieldMessage(t, fieldErrors(t, r.expect(t, http.StatusBadRequest)), "currentPassword", "The current password is not correct.")
	}
	r := e.do("PATCH", self, tok, map[string]any{"email": "x@evil.test", "currentPassword": "lena-pass-1"}).
		expect(t, http.StatusTooManyRequests)
	retryAfter(t, r)
	// The guesses locked the account's logins too.
	expectUnauthorized(t, e.login("lena@example.com", "lena-pass-1"))
	e.do("PATCH", self, tok, map[string]any{"password": "new-pass-99", "currentPassword": "lena-pass-1"}).
		expect(t, http.StatusTooManyRequests)
	me := e.do("GET", self, tok, nil).expect(t, http.StatusOK).JSON(t)
	if me["email"] != "lena@example.com" {
		t.Fatalf("email changed to %v", me["email"])
	}

	// With the right password, after the lock, the change goes through;
	// an admin changing someone else needs none.
	v := e.createUser("mona", false, "mona-pass-1")
	vt := e.token(v)
	e.do("PATCH", "/api/v3/users/"+itoa(v.ID), vt, map[string]any{"email": "mona2@example.com", "currentPassword": "mona-pass-1"}).
		expect(t, http.StatusOK)
	e.do("PATCH", "/api/v3/users/"+itoa(v.ID), e.AdminToken, map[string]any{"username": "mona3"}).expect(t, http.StatusOK)
}

// Item 6: no per-client limit on password logins, so 64 concurrent
// anonymous attempts kept argon2id busy for everyone.
func TestSecurityLoginLimitPerClientAddress(t *testing.T) {
	t.Parallel()
	trusted, _ := httpapi.ParseTrustedProxies("127.0.0.1")
	e := newEnvWith(t, httpapi.Config{TrustedProxies: trusted, LoginFailuresPerMinute: 5})
	clock := installClock(e)
	for i := range 5 {
		expectUnauthorized(t, e.loginFrom("ghost"+strconv.Itoa(i), "wrong-password", "X-Forwarded-For", "203.0.113.7"))
	}
	r := e.loginFrom("ghost-x", "wrong-password", "X-Forwarded-For", "203.0.113.7").expect(t, http.StatusTooManyRequests)
	if ra := retryAfter(t, r); ra > 12 {
		t.Fatalf("Retry-After = %d, want at most the time of one attempt (12 s)", ra)
	}
	// Before argon2id: even the right password from that address waits.
	e.loginFrom("admin", "adminpass", "X-Forwarded-For", "203.0.113.7").expect(t, http.StatusTooManyRequests)
	// Another client, and the proxy's own address, are not limited; a
	// spoofed X-Forwarded-For before the trusted hop does not count.
	e.loginFrom("admin", "adminpass", "X-Forwarded-For", "198.51.100.1").expect(t, http.StatusCreated)
	e.loginFrom("admin", "adminpass", "X-Forwarded-For", "198.51.100.1, 203.0.113.7").expect(t, http.StatusTooManyRequests)
	// Successful logins do not use up the allowance.
	for range 10 {
		e.loginFrom("admin", "adminpass", "X-Forwarded-For", "198.51.100.2").expect(t, http.StatusCreated)
	}
	clock.Advance(13 * time.Second)
	expectUnauthorized(t, e.loginFrom("ghost-y", "wrong-password", "X-Forwarded-For", "203.0.113.7"))

	// Without trusted proxies the header is ignored: the peer is the client.
	e2 := newEnvWith(t, httpapi.Config{LoginFailuresPerMinute: 2})
	for i := range 2 {
		expectUnauthorized(t, e2.loginFrom("ghost", "wrong-"+strconv.Itoa(i), "X-Forwarded-For", "192.0.2."+strconv.Itoa(i)))
	}
	e2.loginFrom("ghost", "wrong-3", "X-Forwarded-For", "192.0.2.99").expect(t, http.StatusTooManyRequests)
}

// Item 8: next/previous reflected any Host header and ignored forwarded
// headers.
func TestSecurityLinksPublicURLAndProxies(t *testing.T) {
	t.Parallel()
	pub, err := httpapi.ParsePublicURL("https://roster.example.org/base/")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, httpapi.Config{PublicURL: pub})
	e.createUser("nina", false, "")
	b := e.do("GET", "/api/v3/users?page_size=1", e.AdminToken, nil, "Host", "evil.test", "X-Forwarded-Host", "evil2.test").
		expect(t, http.StatusOK).JSON(t)
	if b["next"] != "https://roster.example.org/base/api/v3/users?page=2&page_size=1" {
		t.Fatalf("next = %v", b["next"])
	}

	// Forwarded headers count only from a trusted proxy.
	trusted, _ := httpapi.ParseTrustedProxies("127.0.0.0/8,::1")
	e2 := newEnvWith(t, httpapi.Config{TrustedProxies: trusted})
	e2.createUser("nina", false, "")
	b = e2.do("GET", "/api/v3/users?page_size=1", e2.AdminToken, nil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "roster.example.org").
		expect(t, http.StatusOK).JSON(t)
	if b["next"] != "https://roster.example.org/api/v3/users?page=2&page_size=1" {
		t.Fatalf("next behind a trusted proxy = %v", b["next"])
	}
	e3 := newEnv(t)
	e3.createUser("nina", false, "")
	b = e3.do("GET", "/api/v3/users?page_size=1", e3.AdminToken, nil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.test").
		expect(t, http.StatusOK).JSON(t)
	if next, _ := b["next"].(string); !strings.HasPrefix(next, "http://127.0.0.1:") {
		t.Fatalf("next from an untrusted peer = %v, want the request's own origin", b["next"])
	}

	for _, bad := range []string{"ftp://x", "/relative", "https://x/?q=1", "https://u:p@x/"} {
		if _, err := httpapi.ParsePublicURL(bad); err == nil {
			t.Errorf("ParsePublicURL(%q) accepted", bad)
		}
	}
	if _, err := httpapi.ParseTrustedProxies("10.0.0.0/8, nonsense"); err == nil {
		t.Error("ParseTrustedProxies accepted nonsense")
	}
	if p, err := httpapi.ParseTrustedProxies("10.0.0.1, 192.168.0.0/16"); err != nil || len(p) != 2 || !p[0].Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Errorf("ParseTrustedProxies = %v, %v", p, err)
	}
}
