package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/httpapi"
)

// personalToken stores a personal token of u with scopes, without the API.
func (e *env) personalToken(u *roster.User, scopes roster.Scopes) string {
	e.t.Helper()
	secret, hash := roster.NewTokenSecret()
	t := &roster.Token{UserID: u.ID, Hash: hash, Kind: roster.TokenPersonal, Name: "test", Scopes: scopes,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.db.IssueToken(context.Background(), u.ID, t); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// expectInsufficientScope checks the 403 of a token without scope.
func expectInsufficientScope(t *testing.T, r *resp, scope roster.Scope) {
	t.Helper()
	r.expect(t, 403)
	if got, want := r.Header.Get("WWW-Authenticate"), `Bearer error="insufficient_scope", scope="`+string(scope)+`"`; got != want {
		t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
	}
	if d, _ := r.JSON(t)["detail"].(string); !strings.Contains(d, `"`+string(scope)+`"`) {
		t.Fatalf("detail %q does not name the scope %s", d, scope)
	}
}

// TestOpenAPIScopes: every registered route that needs a token names
// exactly one known scope on its operation, and public routes none.
func TestOpenAPIScopes(t *testing.T) { eachStore(t, testOpenAPIScopes) }

func testOpenAPIScopes(t *testing.T) {
	ops, err := api.OperationSecurity(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range newOpenAPIServer(t).Routes() {
		sec, ok := ops[pattern]
		switch {
		case !ok:
			if !outsideAPI(pattern) {
				t.Errorf("%s is not in api/openapi.json", pattern)
			}
		case sec.Public && len(sec.Scopes) > 0:
			t.Errorf("%s is public but names scopes %v", pattern, sec.Scopes)
		case !sec.Public && len(sec.Scopes) != 1:
			t.Errorf("%s names scopes %v, want exactly one", pattern, sec.Scopes)
		case !sec.Public && !roster.Scope(sec.Scopes[0]).Known():
			t.Errorf("%s names the unknown scope %q", pattern, sec.Scopes[0])
		}
	}
}

// TestTokenScopeAxis is the token-scope axis of the authorization matrix:
// for every route that needs a token (from Server.Routes(), so new routes
// are covered), an admin's token with exactly the route's scope passes the
// scope check, and one with every other scope gets 403 insufficient_scope.
// Path ids name nothing, so the requests that pass change nothing.
func TestTokenScopeAxis(t *testing.T) { eachStore(t, testTokenScopeAxis) }

func testTokenScopeAxis(t *testing.T) {
	e := newEnv(t)
	ops, err := api.OperationSecurity(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	params := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for _, pattern := range httpapi.NewServer(httpapi.Config{Store: e.db}).Routes() {
		sec, ok := ops[pattern]
		if !ok || sec.Public {
			continue
		}
		n++
		scope := roster.Scope(sec.Scopes[0])
		method, path, _ := strings.Cut(pattern, " ")
		path = params.ReplaceAllString(path, "999999")
		t.Run(pattern, func(t *testing.T) {
			only := e.personalToken(e.Admin, roster.ScopesOf(scope))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, method, e.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+only)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close() // a stream would not end
			if res.StatusCode == 401 || strings.Contains(res.Header.Get("WWW-Authenticate"), "insufficient_scope") {
				t.Fatalf("a token with exactly %s: status %d, WWW-Authenticate %q", scope, res.StatusCode, res.Header.Get("WWW-Authenticate"))
			}
			others := e.personalToken(e.Admin, roster.EveryScope&^roster.ScopesOf(scope))
			expectInsufficientScope(t, e.do(method, path, others, nil), scope)
		})
	}
	if n < 30 {
		t.Fatalf("only %d routes with a scope", n)
	}
}

func TestTokenLifecycle(t *testing.T) { eachStore(t, testTokenLifecycle) }

func testTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	login := e.do("POST", "/api/v3/auth/token", "", map[string]string{"username": "admin", "password": "adminpass"}).expect(t, 201).JSON(t)
	session := login["token"].(string)

	before := e.db.Now()
	created := e.do("POST", "/api/v3/tokens", session, map[string]any{"name": "ci-bot", "scopes": []string{"activities:write", "users:read"}}).
		expect(t, 201).JSON(t)
	secret, _ := created["token"].(string)
	if !strings.HasPrefix(secret, "rst_") || created["prefix"] != secret[:8] || created["kind"] != "personal" || created["name"] != "ci-bot" ||
		created["lastUsedAt"] != nil {
		t.Fatalf("created: %v", created)
	}
	if got := created["scopes"].([]any); len(got) != 2 || got[0] != "users:read" || got[1] != "activities:write" {
		t.Fatalf("scopes %v", got)
	}
	exp, err := time.Parse(time.RFC3339, created["expiresAt"].(string))
	if err != nil || exp.Sub(before) < roster.DefaultPersonalTokenTTL-time.Minute || exp.Sub(before) > roster.DefaultPersonalTokenTTL+time.Minute {
		t.Fatalf("expiresAt %v, want about 90 days ahead", created["expiresAt"])
	}

	// The token does what its scopes allow, and nothing else.
	e.do("GET", "/api/v3/users/me", secret, nil).expect(t, 200)
	e.do("POST", "/api/v3/activities", secret, map[string]any{"verb": "build.finished"}).expect(t, 201)
	expectInsufficientScope(t, e.do("GET", "/api/v3/workspaces", secret, nil), roster.ScopeWorkspacesRead)
	expectInsufficientScope(t, e.do("GET", "/api/v3/tokens", secret, nil), roster.ScopeTokens)

	// The list shows sessions and personal tokens, never a secret; lastUsedAt
	// is written in batches.
	if err := e.db.FlushTokenUses(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/api/v3/tokens", session, nil).expect(t, 200)
	if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), session) || strings.Contains(string(r.Body), `"token"`) {
		t.Fatalf("the list shows a secret: %s", r.Body)
	}
	page := azPage(t, r)
	var kinds []string
	for _, it := range page.Results {
		kinds = append(kinds, it["kind"].(string)+":"+it["name"].(string))
		if it["prefix"] == secret[:8] && it["lastUsedAt"] == nil {
			t.Fatalf("lastUsedAt not set after use: %v", it)
		}
	}
	if !slices.Equal(kinds, []string{"personal:ci-bot", "session:login", "session:"}) { // newest first; the last made by the harness
		t.Fatalf("tokens %v", kinds)
	}
	stored, _, err := e.db.FindTokens(context.Background(), e.Admin.ID, roster.Page{Limit: 10})
	if err != nil || stored[0].LastUsedAt == nil {
		t.Fatalf("lastUsedAt not stored after the flush: %v %v", stored, err)
	}

	// Revoking one token leaves the others working.
	other := e.do("POST", "/api/v3/tokens", session, map[string]any{"name": "other", "scopes": []string{"users:read"}}).expect(t, 201).JSON(t)
	e.do("DELETE", "/api/v3/tokens/"+jsonID(created["id"]), session, nil).expect(t, 204)
	e.do("GET", "/api/v3/users/me", secret, nil).expect(t, 401)
	e.do("GET", "/api/v3/users/me", other["token"].(string), nil).expect(t, 200)
	e.do("GET", "/api/v3/users/me", session, nil).expect(t, 200)
	e.do("DELETE", "/api/v3/tokens/"+jsonID(created["id"]), session, nil).expect(t, 404)
}

func jsonID(v any) string { return strconv.FormatInt(azID(v), 10) }

func TestTokenCreateValidation(t *testing.T) { eachStore(t, testTokenCreateValidation) }

func testTokenCreateValidation(t *testing.T) {
	e := newEnv(t)
	bob := e.createUser("bob", false, "")
	bobTok := e.token(bob)
	now := e.db.Now()
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no name", map[string]any{"scopes": []string{"users:read"}}, "name"},
		{"blank name", map[string]any{"name": " ", "scopes": []string{"users:read"}}, "name"},
		{"no scopes", map[string]any{"name": "x"}, "scopes"},
		{"empty scopes", map[string]any{"name": "x", "scopes": []string{}}, "scopes"},
		{"unknown scope", map[string]any{"name": "x", "scopes": []string{"users:admin"}}, "scopes"},
		{"scopes not a list", map[string]any{"name": "x", "scopes": "users:read"}, "scopes"},
		{"admin-only scope", map[string]any{"name": "x", "scopes": []string{"webhooks"}}, "scopes"},
		{"scim for a non-admin", map[string]any{"name": "x", "scopes": []string{"users:read", "scim"}}, "scopes"},
		{"past expiry", map[string]any{"name": "x", "scopes": []string{"users:read"}, "expiresAt": now.Add(-time.Minute).Format(time.RFC3339)}, "expiresAt"},
		{"expiry over 366 days", map[string]any{"name": "x", "scopes": []string{"users:read"}, "expiresAt": now.Add(367 * 24 * time.Hour).Format(time.RFC3339)}, "expiresAt"},
		{"bad expiry", map[string]any{"name": "x", "scopes": []string{"users:read"}, "expiresAt": "tomorrow"}, "expiresAt"},
		{"unknown field", map[string]any{"name": "x", "scopes": []string{"users:read"}, "owner": 1}, "owner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.do("POST", "/api/v3/tokens", bobTok, tc.body).expect(t, 400).JSON(t)
			if errs, _ := p["errors"].(map[string]any); errs[tc.field] == nil {
				t.Fatalf("errors do not name %s: %v", tc.field, p)
			}
		})
	}
	list, total, err := e.db.FindTokens(context.Background(), bob.ID, roster.Page{Limit: 10})
	if err != nil || total != 1 || len(list) != 1 {
		t.Fatalf("a refused creation stored a token: %d %v", total, err)
	}
	// An admin may hold webhooks and scim; a year ahead is fine.
	r := e.do("POST", "/api/v3/tokens", e.AdminToken, map[string]any{"name": "hooks", "scopes": []string{"webhooks", "scim"},
		"expiresAt": now.Add(366*24*time.Hour - time.Minute).Format(time.RFC3339)}).expect(t, 201).JSON(t)
	if r["scopes"].([]any)[0] != "webhooks" {
		t.Fatalf("%v", r)
	}
	// A token never makes a stronger one.
	weak := e.personalToken(bob, roster.ScopesOf(roster.ScopeTokens, roster.ScopeUsersRead))
	e.do("POST", "/api/v3/tokens", weak, map[string]any{"name": "x", "scopes": []string{"users:read"}}).expect(t, 201)
	p := e.do("POST", "/api/v3/tokens", weak, map[string]any{"name": "x", "scopes": []string{"users:write"}}).expect(t, 403).JSON(t)
	if !strings.Contains(p["detail"].(string), "users:write") {
		t.Fatalf("detail %v", p["detail"])
	}
}

// TestTokenNarrowedByOwner: a token's rights are its owner's, re-evaluated
// on every request: demoting an admin narrows the admin's token at once.
func TestTokenNarrowedByOwner(t *testing.T) { eachStore(t, testTokenNarrowedByOwner) }

func testTokenNarrowedByOwner(t *testing.T) {
	e := newEnv(t)
	boss := e.createUser("boss", true, "")
	tok := e.personalToken(boss, roster.ScopesOf(roster.ScopeUsersWrite, roster.ScopeUsersRead))
	e.do("POST", "/api/v3/users", tok, map[string]any{"username": "made1", "email": "made1@example.com"}).expect(t, 201)
	e.do("PATCH", "/api/v3/users/"+itoa(boss.ID), e.AdminToken, map[string]any{"isAdmin": false}).expect(t, 200)
	e.do("POST", "/api/v3/users", tok, map[string]any{"username": "made2", "email": "made2@example.com"}).expect(t, 403)
	e.do("GET", "/api/v3/users/me", tok, nil).expect(t, 200)
	// Scopes only admins may hold stop counting too.
	s := &roster.Session{TokenKind: roster.TokenPersonal, Scopes: roster.ScopesOf(roster.ScopeSCIM), User: &roster.User{IsAdmin: false}}
	if s.Allows(roster.ScopeSCIM) {
		t.Fatal("a non-admin's token is allowed scim")
	}
}

func TestServiceAccounts(t *testing.T) { eachStore(t, testServiceAccounts) }

func testServiceAccounts(t *testing.T) {
	e := newEnv(t)
	// A password is refused; the account is made without one.
	e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "ci", "email": "ci@example.com", "isService": true,
		"password": "long-enough-1"}).expect(t, 400)
	p := e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "ci", "email": "ci@example.com", "isService": true}).
		expect(t, 201).JSON(t)
	if p["isService"] != true {
		t.Fatalf("isService not in the profile: %v", p)
	}
	id := azID(p["id"])
	e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "x", "email": "x@example.com", "isService": "yes"}).expect(t, 400)
	// PATCH cannot set a password, nor turn the account into a person.
	e.do("PATCH", "/api/v3/users/"+itoa(id), e.AdminToken, map[string]any{"password": "long-enough-1"}).expect(t, 400)
	if r := e.do("PATCH", "/api/v3/users/"+itoa(id), e.AdminToken, map[string]any{"isService": false}).expect(t, 200).JSON(t); r["isService"] != true {
		t.Fatalf("isService changed: %v", r)
	}

	// Password sign-in is refused even with a stored password hash.
	hash, err := e.hasher.Hash(context.Background(), "sneaky-pass")
	if err != nil {
		t.Fatal(err)
	}
	svc := &roster.User{Username: "svc2", Email: "svc2@example.com", IsActive: true, IsService: true, Timezone: "UTC", Locale: "en"}
	if err := e.db.CreateUser(context.Background(), e.Admin.ID, svc, hash); err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v3/auth/token", "", map[string]string{"username": "svc2", "password": "sneaky-pass"}).expect(t, 401)

	// Its tokens are made by an admin; it cannot make its own.
	made := e.do("POST", "/api/v3/users/"+itoa(id)+"/tokens", e.AdminToken, map[string]any{"name": "deploy", "scopes": []string{"activities:write", "tokens"}}).
		expect(t, 201).JSON(t)
	secret := made["token"].(string)
	if me := e.do("GET", "/api/v3/users/me", secret, nil); me.Status != 403 {
		t.Fatalf("a token without users:read read /users/me: %d", me.Status)
	}
	e.do("POST", "/api/v3/activities", secret, map[string]any{"verb": "deploy.done"}).expect(t, 201)
	e.do("POST", "/api/v3/tokens", secret, map[string]any{"name": "mine", "scopes": []string{"tokens"}}).expect(t, 403)
	list := azPage(t, e.do("GET", "/api/v3/users/"+itoa(id)+"/tokens", e.AdminToken, nil).expect(t, 200))
	if list.Count != 1 || list.Results[0]["name"] != "deploy" {
		t.Fatalf("service account tokens: %+v", list)
	}
	// webhooks/scim only for admin owners, also when an admin asks.
	e.do("POST", "/api/v3/users/"+itoa(id)+"/tokens", e.AdminToken, map[string]any{"name": "x", "scopes": []string{"scim"}}).expect(t, 400)
	e.do("POST", "/api/v3/users/999999/tokens", e.AdminToken, map[string]any{"name": "x", "scopes": []string{"users:read"}}).expect(t, 404)

	// The user list tells people from service accounts.
	services := azPage(t, e.do("GET", "/api/v3/users?isService=true", e.AdminToken, nil).expect(t, 200))
	people := azPage(t, e.do("GET", "/api/v3/users?isService=false", e.AdminToken, nil).expect(t, 200))
	all := azPage(t, e.do("GET", "/api/v3/users", e.AdminToken, nil).expect(t, 200))
	if !slices.Equal(azIDs(services.Results), []int64{id, svc.ID}) || services.Count != 2 {
		t.Fatalf("service accounts %v (count %d)", azIDs(services.Results), services.Count)
	}
	if !slices.Equal(azIDs(people.Results), []int64{e.Admin.ID}) || people.Count != 1 || all.Count != 3 {
		t.Fatalf("people %v (count %d), all %d", azIDs(people.Results), people.Count, all.Count)
	}
	inactive := azPage(t, e.do("GET", "/api/v3/users?isService=true&isActive=false", e.AdminToken, nil).expect(t, 200))
	if inactive.Count != 0 {
		t.Fatalf("inactive service accounts: %d", inactive.Count)
	}
	e.do("GET", "/api/v3/users?isService=maybe", e.AdminToken, nil).expect(t, 400)
}

// TestNoTokenForInactiveUser: deactivation revokes a user's tokens, so an
// admin cannot mint one for the deactivated user that would come alive
// when the user is activated again (the CLI refuses it too).
func TestNoTokenForInactiveUser(t *testing.T) {
	e := newEnv(t)
	carl := e.createUser("carl", false, "")
	e.do("PATCH", "/api/v3/users/"+itoa(carl.ID), e.AdminToken, map[string]any{"isActive": false}).expect(t, 200)
	p := e.do("POST", "/api/v3/users/"+itoa(carl.ID)+"/tokens", e.AdminToken, map[string]any{"name": "x", "scopes": []string{"users:read"}}).
		expect(t, 400).JSON(t)
	if errs, _ := p["errors"].(map[string]any); errs["user"] == nil {
		t.Fatalf("errors do not name the user: %v", p)
	}
	e.do("PATCH", "/api/v3/users/"+itoa(carl.ID), e.AdminToken, map[string]any{"isActive": true}).expect(t, 200)
	if list, total, err := e.db.FindTokens(context.Background(), carl.ID, roster.Page{Limit: 10}); err != nil || total != 0 {
		t.Fatalf("carl holds %d tokens after reactivation: %v %v", total, list, err)
	}
	e.do("POST", "/api/v3/users/"+itoa(carl.ID)+"/tokens", e.AdminToken, map[string]any{"name": "x", "scopes": []string{"users:read"}}).expect(t, 201)
}

// TestTokenCreateBadScopesAnswerSmall: a body full of bad scope names gets
// one message per kind of error, not one per name: 300,000 empty names
// (a 1 MiB body) made a 52 MB answer that took seconds to build.
func TestTokenCreateBadScopesAnswerSmall(t *testing.T) {
	e := newEnv(t)
	bob := e.createUser("bob", false, "")
	list := make([]string, 300_000)
	list[1], list[2] = "webhooks", "scim"
	r := e.do("POST", "/api/v3/tokens", e.token(bob), map[string]any{"name": "x", "scopes": list}).expect(t, 400)
	if len(r.Body) > 4096 {
		t.Fatalf("a 400 of %d bytes for a list of bad scopes", len(r.Body))
	}
	errs, _ := r.JSON(t)["errors"].(map[string]any)
	msgs, _ := errs["scopes"].([]any)
	if len(msgs) != 2 || !strings.Contains(msgs[0].(string), `Unknown scope ""`) || !strings.Contains(msgs[1].(string), `"webhooks"`) {
		t.Fatalf("scopes errors %v, want one unknown and one admin-only message", msgs)
	}
}
