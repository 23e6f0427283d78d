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
	eachStore(t, testSecurityLoginThrottleDiskExhaustion)
}

func testSecurityLoginThrottleDiskExhaustion(t *testing.T) {
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
	eachStore(t, testSecurityThrottleAnswerIndependentOfName)
}

func testSecurityThrottleAnswerIndependentOfName(t *testing.T) {
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
	eachStore(t, testSecurityCurrentPasswordGuessesThrottled)
}

func testSecurityCurrentPasswordGuessesThrottled(t *testing.T) {
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
	eachStore(t, testSecurityLoginLimitPerClientAddress)
}

func testSecurityLoginLimitPerClientAddress(t *testing.T) {
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
	eachStore(t, testSecurityLinksPublicURLAndProxies)
}

func testSecurityLinksPublicURLAndProxies(t *testing.T) {
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

// Item 2: a username could equal another user's email, and the login name
// then signed in the wrong user.
func TestSecurityLoginNamesUniqueAcrossFields(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecurityLoginNamesUniqueAcrossFields)
}

func testSecurityLoginNamesUniqueAcrossFields(t *testing.T) {
	e := newEnv(t)
	alice := e.createUser("alice", false, "alice-pass-1")
	e.createUser("bob", false, "bob-pass-1")
	tok := e.token(alice)
	r := e.do("PATCH", "/api/v3/users/"+itoa(alice.ID), tok, map[string]any{"username": "BOB@example.com", "currentPassword": "alice-pass-1"})
	expectFieldMessage(t, fieldErrors(t, r.expect(t, http.StatusConflict)), "username", "A user with that username already exists.")
	r = e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "carol", "email": "Alice@example.com"})
	r.expect(t, http.StatusConflict)
	r = e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "dave", "email": "bob"})
	r.expect(t, http.StatusBadRequest) // not an address; a user named like another's email is refused above
	// One's own email as username is fine.
	e.do("PATCH", "/api/v3/users/"+itoa(alice.ID), tok, map[string]any{"username": "alice@example.com", "currentPassword": "alice-pass-1"}).
		expect(t, http.StatusOK)
	e.loginToken("bob@example.com", "bob-pass-1")

	// Old data holding the conflict: the name signs in nobody.
	e.sqlExec("UPDATE users SET username = 'bob@example.com', username_fold = 'bob@example.com' WHERE id = ?", alice.ID)
	expectUnauthorized(t, e.login("BOB@example.com", "alice-pass-1"))
	expectUnauthorized(t, e.login("BOB@example.com", "bob-pass-1"))
	e.loginToken("bob", "bob-pass-1")
}

// Item 9: confusable usernames, format characters in names and activity
// objects, and the server's verbs posted by members.
func TestSecurityConfusablesControlsReservedVerbs(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecurityConfusablesControlsReservedVerbs)
}

func testSecurityConfusablesControlsReservedVerbs(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"\u0430dmin", "ａｄｍｉｎ", "ADMIN"} {
		e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": name, "email": "x" + strconv.Itoa(len(name)) + "@example.com"}).
			expect(t, http.StatusConflict)
	}
	for _, body := range []map[string]any{
		{"username": "eve\u202e", "email": "eve@example.com"},
		{"username": "eve", "email": "eve@example.com", "firstName": "E\u200bve"},
		{"username": "eve", "email": "eve@example.com", "lastName": "evil\u202etxt.exe"},
		{"username": "eve", "email": "eve@example.com", "bio": "a\x00b"},
	} {
		e.do("POST", "/api/v3/users", e.AdminToken, body).expect(t, http.StatusBadRequest)
	}
	u := e.createUser("frank", false, "")
	tok := e.token(u)
	for _, body := range []map[string]any{
		{"verb": "doc.created", "object": map[string]any{"type": "doc", "id": "1", "name": "a\x00b"}},
		{"verb": "doc.created", "object": map[string]any{"type": "doc", "id": "1", "name": "gpj.\u202eexe"}},
		{"verb": "doc.created", "data": map[string]any{"note": "x\u202ey"}},
		{"verb": "workspace.permission_granted"},
		{"verb": "user.deleted"},
		{"verb": "auth.login"},
		{"verb": "group.member_added"},
		{"verb": "token.created"},
	} {
		e.do("POST", "/api/v3/activities", tok, body).expect(t, http.StatusBadRequest)
	}
	e.do("POST", "/api/v3/activities", e.AdminToken, map[string]any{"verb": "user.deleted"}).expect(t, http.StatusBadRequest)
	e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": "users.note", "data": map[string]any{"text": "line\nline"}}).
		expect(t, http.StatusCreated)
	if n := e.sqlCount("SELECT count(*) FROM activities WHERE actor_id = ? AND verb <> 'user.created'", u.ID); n != 1 {
		t.Fatalf("%d activities stored, want 1", n)
	}
}

// Item 7: no limit on activity posting.
func TestSecurityActivityRateLimit(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecurityActivityRateLimit)
}

func testSecurityActivityRateLimit(t *testing.T) {
	e := newEnvWith(t, httpapi.Config{ActivityRate: 1, ActivityBurst: 3})
	clock := installClock(e)
	u := e.createUser("gus", false, "")
	tok := e.token(u)
	for range 3 {
		e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": "doc.created"}).expect(t, http.StatusCreated)
	}
	r := e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": "doc.created"}).expect(t, http.StatusTooManyRequests)
	if ra := retryAfter(t, r); ra != 1 {
		t.Fatalf("Retry-After = %d, want 1", ra)
	}
	for range 5 { // admins are exempt
		e.do("POST", "/api/v3/activities", e.AdminToken, map[string]any{"verb": "doc.created"}).expect(t, http.StatusCreated)
	}
	clock.Advance(time.Second)
	e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": "doc.created"}).expect(t, http.StatusCreated)
	if n := e.sqlCount("SELECT count(*) FROM activities WHERE actor_id = ? AND verb = 'doc.created'", u.ID); n != 4 {
		t.Fatalf("%d activities stored, want 4", n)
	}
}

// Item 11: a workspace admin probed other workspaces' slugs through 409.
func TestSecuritySlugChangeAdminOnly(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecuritySlugChangeAdminOnly)
}

func testSecuritySlugChangeAdminOnly(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("hal", false, "")
	tok := e.token(u)
	mine := e.mustWorkspace("Mine", map[*roster.User]roster.Role{u: roster.RoleAdmin})
	e.mustWorkspace("Secret Plans", nil)
	path := "/api/v3/workspaces/" + itoa(mine)
	e.do("PATCH", path, tok, map[string]any{"slug": "secret-plans"}).expect(t, http.StatusForbidden)
	e.do("PATCH", path, tok, map[string]any{"slug": "free-slug"}).expect(t, http.StatusForbidden)
	e.do("PATCH", path, tok, map[string]any{"name": "Mine 2", "slug": "mine"}).expect(t, http.StatusOK)
	e.do("PATCH", path, e.AdminToken, map[string]any{"slug": "secret-plans"}).expect(t, http.StatusConflict)
}

// Item 5: lastActiveAt revealed the time of activities the viewer may not see.
func TestSecurityLastActiveAtVisibility(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecurityLastActiveAtVisibility)
}

func testSecurityLastActiveAtVisibility(t *testing.T) {
	e := newEnv(t)
	x, v := e.createUser("ida", false, ""), e.createUser("jon", false, "")
	xt, vt := e.token(x), e.token(v)
	hidden := e.mustWorkspace("Hidden", map[*roster.User]roster.Role{x: roster.RoleMember})
	e.do("POST", "/api/v3/activities", xt, map[string]any{"verb": "doc.created", "workspace": hidden}).expect(t, http.StatusCreated)
	path := "/api/v3/users/" + itoa(x.ID)
	if got := e.do("GET", path, vt, nil).expect(t, http.StatusOK).JSON(t)["lastActiveAt"]; got != nil {
		t.Fatalf("lastActiveAt seen by a viewer without access = %v, want null", got)
	}
	for _, tk := range []string{xt, e.AdminToken} {
		if got := e.do("GET", path, tk, nil).expect(t, http.StatusOK).JSON(t)["lastActiveAt"]; got == nil {
			t.Fatal("lastActiveAt is null for the user or an admin")
		}
	}
}

// A viewer who can see some of a user's activities gets the time of the
// newest of those as lastActiveAt, not that of a newer hidden one; the user
// and an admin get the newest.
func TestLastActiveAtNewestVisible(t *testing.T) {
	t.Parallel()
	eachStore(t, testLastActiveAtNewestVisible)
}

func testLastActiveAtNewestVisible(t *testing.T) {
	e := newEnv(t)
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := roster.NewTestClock(start)
	e.clock.use(clock)
	x, v, idle := e.createUser("kim", false, ""), e.createUser("lou", false, ""), e.createUser("max", false, "")
	xt, vt := e.token(x), e.token(v)
	shared := e.mustWorkspace("Shared", map[*roster.User]roster.Role{x: roster.RoleMember, v: roster.RoleMember})
	hidden := e.mustWorkspace("Hidden", map[*roster.User]roster.Role{x: roster.RoleMember})
	post := func(ws any) {
		e.do("POST", "/api/v3/activities", xt, map[string]any{"verb": "doc.created", "workspace": ws}).expect(t, http.StatusCreated)
	}
	clock.Set(start.Add(time.Hour))
	post(shared)
	clock.Set(start.Add(2 * time.Hour))
	post(hidden)
	clock.Set(start.Add(3 * time.Hour))
	post(nil) // no workspace: only x and admins see it
	format := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000Z") }
	path := "/api/v3/users/" + itoa(x.ID)
	if got := e.do("GET", path, vt, nil).expect(t, http.StatusOK).JSON(t)["lastActiveAt"]; got != format(start.Add(time.Hour)) {
		t.Fatalf("lastActiveAt seen by a viewer of Shared only = %v, want %s", got, format(start.Add(time.Hour)))
	}
	for _, tk := range []string{xt, e.AdminToken} {
		if got := e.do("GET", path, tk, nil).expect(t, http.StatusOK).JSON(t)["lastActiveAt"]; got != format(start.Add(3*time.Hour)) {
			t.Fatalf("lastActiveAt seen by the user or an admin = %v, want %s", got, format(start.Add(3*time.Hour)))
		}
	}
	// idle's one activity is its creation, in no workspace.
	idlePath := "/api/v3/users/" + itoa(idle.ID)
	if got := e.do("GET", idlePath, vt, nil).expect(t, http.StatusOK).JSON(t)["lastActiveAt"]; got != nil {
		t.Fatalf("lastActiveAt of a user with no visible activity = %v, want null", got)
	}
	if got := e.do("GET", idlePath, e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)["lastActiveAt"]; got != format(start) {
		t.Fatalf("lastActiveAt of a new user seen by an admin = %v, want %s", got, format(start))
	}
	e.do("GET", "/api/v3/users/999999", vt, nil).expect(t, http.StatusNotFound)
}

// Item 12: missing nosniff and Cache-Control headers.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecurityHeaders)
}

func testSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ path, token, cache string }{
		{"/api/v3/users", e.AdminToken, "no-store"},
		{"/api/v3/users/me", e.AdminToken, "no-store"},
		{"/api/v3/users/999999", e.AdminToken, "no-store"},
		{"/api/v3/openapi.json", "", ""},
		{"/metrics", "", ""},
		{"/api/v3/users", "", "no-store"},
	} {
		r := e.do("GET", c.path, c.token, nil)
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", c.path, r.Header.Get("X-Content-Type-Options"))
		}
		if c.cache != "" && r.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s: Cache-Control = %q, want %q", c.path, r.Header.Get("Cache-Control"), c.cache)
		}
	}
}
