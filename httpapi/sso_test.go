package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/internal/idptest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
)

// noFollow is an HTTP client that shows redirects instead of following
// them, as a test walks the browser's part of a sign-in step by step.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// addProvider configures idp at e as provider name with extra fields.
func (e *env) addProvider(idp *idptest.Provider, name string, extra map[string]any) {
	e.t.Helper()
	body := map[string]any{"name": name, "displayName": "Test " + name, "issuer": idp.URL, "clientId": idp.ClientID,
		"clientSecret": idp.ClientSecret}
	for k, v := range extra {
		body[k] = v
	}
	e.do("POST", "/api/v3/auth/providers", e.AdminToken, body).expect(e.t, http.StatusCreated)
}

// get sends GET url without following a redirect and returns the answer's
// status and Location.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := noFollow.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// startSSO starts a sign-in at provider name on base and returns the
// provider's authorization URL.
func startSSO(t *testing.T, base, name, redirect string) string {
	t.Helper()
	status, loc := get(t, base+"/api/v3/auth/oidc/"+name+"/login?redirect_uri="+url.QueryEscape(redirect))
	if status != http.StatusFound {
		t.Fatalf("login: status %d, want 302", status)
	}
	return loc
}

// authorize lets the provider approve (it does at once) and returns the
// callback URL it sends the browser to.
func authorize(t *testing.T, authURL string) string {
	t.Helper()
	status, loc := get(t, authURL)
	if status != http.StatusFound {
		t.Fatalf("provider authorize: status %d", status)
	}
	return loc
}

// finish follows the callback and returns the fragment parameters of where
// it sends the browser. The request goes to base under the Host the
// provider was told, as a load balancer in front of several instances
// sends it.
func finish(t *testing.T, base, callback, wantPrefix string) url.Values {
	t.Helper()
	cb, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", base+cb.RequestURI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = cb.Host
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	status, loc := res.StatusCode, res.Header.Get("Location")
	if status != http.StatusFound {
		t.Fatalf("callback: status %d, want 302", status)
	}
	target, frag, ok := strings.Cut(loc, "#")
	if !ok || target != wantPrefix {
		t.Fatalf("callback sent the browser to %q, want %s#...", loc, wantPrefix)
	}
	if strings.Contains(target, "code=") || strings.Contains(target, "token") {
		t.Fatalf("a code or token in the URL outside its fragment: %q", loc)
	}
	v, err := url.ParseQuery(frag)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signIn goes through a whole sign-in at provider name and returns the
// fragment the browser ends with.
func (e *env) signIn(name string) url.Values {
	e.t.Helper()
	return finish(e.t, e.URL, authorize(e.t, startSSO(e.t, e.URL, name, "/admin/")), "/admin/")
}

// redeem exchanges a one-time code and returns the answer.
func (e *env) redeem(code string) *resp {
	e.t.Helper()
	return e.do("POST", "/api/v3/auth/token", "", map[string]string{"code": code})
}

// signInUser signs in through provider name and returns the token and user of the session.
func (e *env) signInUser(name string) (string, map[string]any) {
	e.t.Helper()
	frag := e.signIn(name)
	if frag.Get("code") == "" {
		e.t.Fatalf("sign-in ended with %v, want a code", frag)
	}
	body := e.redeem(frag.Get("code")).expect(e.t, http.StatusCreated).JSON(e.t)
	return body["token"].(string), body["user"].(map[string]any)
}

func TestSSOHappyPathAndJIT(t *testing.T) { eachStore(t, testSSOHappyPathAndJIT) }

func testSSOHappyPathAndJIT(t *testing.T) {
	e := newEnv(t)
	idp := idptest.Start(t)
	idp.SetClaims(map[string]any{"sub": "s-42", "email": "Jane.Doe@corp.example", "email_verified": true,
		"preferred_username": "jane doe!", "given_name": "Jane", "family_name": "Doe"})
	e.addProvider(idp, "corp", map[string]any{"autoCreate": true})
	// The login redirect carries PKCE S256, state and nonce, and the
	// registered callback.
	auth, err := url.Parse(startSSO(t, e.URL, "corp", "/admin/"))
	if err != nil {
		t.Fatal(err)
	}
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("redirect_uri") != e.URL+"/api/v3/auth/oidc/corp/callback" || q.Get("client_id") != "roster" ||
		!strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization request %s lacks PKCE, state, nonce or the callback", auth)
	}
	frag := finish(t, e.URL, authorize(t, auth.String()), "/admin/")
	code := frag.Get("code")
	if code == "" {
		t.Fatalf("fragment %v, want a code", frag)
	}
	body := e.redeem(code).expect(t, http.StatusCreated).JSON(t)
	user := body["user"].(map[string]any)
	if user["username"] != "janedoe" || user["email"] != "Jane.Doe@corp.example" || user["firstName"] != "Jane" || user["lastName"] != "Doe" {
		t.Fatalf("just-in-time user = %v", user)
	}
	tok := body["token"].(string)
	me := e.do("GET", "/api/v3/users/me", tok, nil).expect(t, http.StatusOK).JSON(t)
	if me["id"] != user["id"] || me["lastLogin"] == nil {
		t.Fatalf("the session's user = %v", me)
	}
	// The code is single use.
	e.redeem(code).expect(t, http.StatusUnauthorized)
	// Identities are listed, to the user and an admin, not to others.
	id := int64(user["id"].(float64))
	path := "/api/v3/users/" + itoa(id) + "/identities"
	var ids []map[string]any
	if err := json.Unmarshal(e.do("GET", path, tok, nil).expect(t, http.StatusOK).Body, &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0]["provider"] != "corp" || ids[0]["subject"] != "s-42" || ids[0]["email"] != "Jane.Doe@corp.example" ||
		ids[0]["linkedAt"] == nil || ids[0]["lastLoginAt"] == nil {
		t.Fatalf("identities = %v", ids)
	}
	e.do("GET", path, e.AdminToken, nil).expect(t, http.StatusOK)
	other := e.createUser("other", false, "otherpass")
	e.do("GET", path, e.token(other), nil).expect(t, http.StatusForbidden)
	// A second sign-in finds the same user through the identity.
	_, again := e.signInUser("corp")
	if again["id"] != user["id"] {
		t.Fatalf("second sign-in gave user %v, want %v", again["id"], user["id"])
	}
	// Activities: user.created, auth.identity_linked and auth.login with the method.
	verbs := e.activityVerbs(id)
	for _, v := range []string{"user.created", "auth.identity_linked", "auth.login"} {
		if !slices.Contains(verbs, v) {
			t.Fatalf("activities of the new user = %v, want %s", verbs, v)
		}
	}
	acts := e.do("GET", "/api/v3/users/"+itoa(id)+"/activities?verb=auth.login", e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	data := acts["results"].([]any)[0].(map[string]any)["data"].(map[string]any)
	if data["method"] != "oidc" || data["provider"] != "corp" {
		t.Fatalf("auth.login data = %v", data)
	}
	// Unlinking the only way in is 409; with a password it works.
	e.do("DELETE", path+"/corp", tok, nil).expect(t, http.StatusConflict)
	e.do("PATCH", "/api/v3/users/"+itoa(id), e.AdminToken, map[string]any{"password": "a-long-password"}).expect(t, http.StatusOK)
	e.do("DELETE", path+"/corp", e.AdminToken, nil).expect(t, http.StatusNoContent)
	e.do("DELETE", path+"/corp", e.AdminToken, nil).expect(t, http.StatusNotFound)
	if !slices.Contains(e.activityVerbs(e.Admin.ID), "auth.identity_unlinked") {
		t.Fatal("no auth.identity_unlinked activity")
	}
}

// activityVerbs lists the verbs of the activities of actor id, as the admin sees them.
func (e *env) activityVerbs(id int64) []string {
	e.t.Helper()
	page := e.do("GET", "/api/v3/users/"+itoa(id)+"/activities?page_size=1000", e.AdminToken, nil).expect(e.t, http.StatusOK).JSON(e.t)
	var verbs []string
	for _, a := range page["results"].([]any) {
		verbs = append(verbs, a.(map[string]any)["verb"].(string))
	}
	return verbs
}

func TestSSOLinking(t *testing.T) { eachStore(t, testSSOLinking) }

func testSSOLinking(t *testing.T) {
	e := newEnv(t)
	idp := idptest.Start(t)
	jane := e.createUser("jane", false, "janepass")
	e.addProvider(idp, "corp", map[string]any{"linkByEmail": true})
	// An unverified email links nobody: without autoCreate, no account.
	idp.SetClaims(map[string]any{"sub": "s-1", "email": "jane@example.com", "email_verified": false})
	if got := e.signIn("corp").Get("error"); got != "no_account" {
		t.Fatalf("unverified email: error %q, want no_account", got)
	}
	// Neither does a verified email with autoCreate: the email is taken.
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"linkByEmail": false, "autoCreate": true}).expect(t, http.StatusOK)
	idp.SetClaims(map[string]any{"sub": "s-1", "email": "jane@example.com", "email_verified": true})
	if got := e.signIn("corp").Get("error"); got != "no_account" {
		t.Fatalf("taken email without linkByEmail: error %q, want no_account", got)
	}
	// A verified email links the user with that email.
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"linkByEmail": true, "autoCreate": false}).expect(t, http.StatusOK)
	idp.SetClaims(map[string]any{"sub": "s-1", "email": "JANE@example.com", "email_verified": true})
	_, u := e.signInUser("corp")
	if int64(u["id"].(float64)) != jane.ID {
		t.Fatalf("linked user %v, want jane (%d)", u["id"], jane.ID)
	}
	// Allowed email domains.
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"allowedEmailDomains": []string{"corp.example"}}).expect(t, http.StatusOK)
	if got := e.signIn("corp").Get("error"); got != "email_domain_not_allowed" {
		t.Fatalf("outside allowed domains: error %q", got)
	}
	// An email the provider has not verified passes no domain check and
	// creates nobody (it would become the new user's email): a new
	// identity claiming ceo@corp.example unverified, a linked one whose
	// email went unverified, and one with a look-alike domain (the Kelvin
	// sign for k).
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"autoCreate": true}).expect(t, http.StatusOK)
	idp.SetClaims(map[string]any{"sub": "s-ceo", "email": "ceo@corp.example", "email_verified": false})
	if got := e.signIn("corp").Get("error"); got != "email_domain_not_allowed" {
		t.Fatalf("unverified email in an allowed domain: error %q", got)
	}
	idp.SetClaims(map[string]any{"sub": "s-1", "email": "jane@corp.example", "email_verified": false})
	if got := e.signIn("corp").Get("error"); got != "email_domain_not_allowed" {
		t.Fatalf("linked identity, unverified email: error %q", got)
	}
	idp.SetClaims(map[string]any{"sub": "s-kelvin", "email": "x@corp.e\u212Aample", "email_verified": true})
	if got := e.signIn("corp").Get("error"); got != "email_domain_not_allowed" {
		t.Fatalf("non-ASCII domain: error %q", got)
	}
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"allowedEmailDomains": []string{}}).expect(t, http.StatusOK)
	idp.SetClaims(map[string]any{"sub": "s-new", "email": "newcomer@example.com", "email_verified": false})
	if got := e.signIn("corp").Get("error"); got != "no_account" {
		t.Fatalf("auto-create with an unverified email: error %q, want no_account", got)
	}
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"autoCreate": false}).expect(t, http.StatusOK)
	idp.SetClaims(map[string]any{"sub": "s-1", "email": "JANE@example.com", "email_verified": true})
	// An inactive user is refused.
	e.do("PATCH", "/api/v3/users/"+itoa(jane.ID), e.AdminToken, map[string]any{"isActive": false}).expect(t, http.StatusOK)
	if got := e.signIn("corp").Get("error"); got != "account_inactive" {
		t.Fatalf("inactive user: error %q", got)
	}
	// A service account is refused, even with its email verified.
	svc := e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "robot", "email": "robot@example.com", "isService": true}).
		expect(t, http.StatusCreated).JSON(t)
	idp.SetClaims(map[string]any{"sub": "s-robot", "email": "robot@example.com", "email_verified": true})
	if got := e.signIn("corp").Get("error"); got != "service_account" {
		t.Fatalf("service account: error %q", got)
	}
	var ids []any
	_ = json.Unmarshal(e.do("GET", "/api/v3/users/"+itoa(int64(svc["id"].(float64)))+"/identities", e.AdminToken, nil).expect(t, http.StatusOK).Body, &ids)
	if len(ids) != 0 {
		t.Fatalf("the service account got identities %v", ids)
	}
}

func TestSSOTokenChecks(t *testing.T) { eachStore(t, testSSOTokenChecks) }

func testSSOTokenChecks(t *testing.T) {
	logs := &logBuffer{}
	e := newEnvWith(t, httpapi.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	idp := idptest.Start(t)
	e.createUser("jane", false, "janepass")
	e.addProvider(idp, "corp", map[string]any{"linkByEmail": true})
	for _, c := range []struct {
		name   string
		tamper func(map[string]any)
		bad    string
		why    string // in the server's log
	}{
		{"wrong audience", func(c map[string]any) { c["aud"] = "someone-else" }, "", "audience"},
		{"expired", func(c map[string]any) { c["exp"] = c["iat"].(int64) - 600; c["iat"] = c["iat"].(int64) - 900 }, "", "expired"},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, "", "different provider"},
		{"nonce mismatch", func(c map[string]any) { c["nonce"] = "not-the-one-sent" }, "", "nonce mismatch"},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }, "", "nonce mismatch"},
		{"bad signature", nil, "signature", "failed to verify signature"},
		{"HMAC", nil, "hmac", "malformed jwt"},
		{"alg none", nil, "none", "malformed jwt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp.Tamper(c.tamper)
			idp.BadSignature(c.bad)
			defer idp.Tamper(nil)
			defer idp.BadSignature("")
			before := len(logs.String())
			if frag := e.signIn("corp"); frag.Get("error") != "invalid_token" || frag.Get("code") != "" {
				t.Fatalf("%s: fragment %v, want error=invalid_token", c.name, frag)
			}
			if got := logs.String()[before:]; !strings.Contains(got, c.why) {
				t.Fatalf("%s: refused for another reason: %s", c.name, got)
			}
		})
	}
	e.signInUser("corp") // good again
	// Key rotation: a new key (old one withdrawn) is fetched by key id.
	if err := idp.RotateKey(false); err != nil {
		t.Fatal(err)
	}
	e.signInUser("corp")
	// Replayed state: the callback's URL used twice.
	cb := authorize(t, startSSO(t, e.URL, "corp", "/admin/"))
	if finish(t, e.URL, cb, "/admin/").Get("code") == "" {
		t.Fatal("first use of the state gave no code")
	}
	u, _ := url.Parse(cb)
	res := e.do("GET", u.RequestURI(), "", nil)
	res.expect(t, http.StatusBadRequest)
	// A state of another provider's sign-in, and an unknown state.
	e.do("GET", "/api/v3/auth/oidc/corp/callback?state=forged&code=x", "", nil).expect(t, http.StatusBadRequest)
	// The provider refusing: error=access_denied.
	cb = authorize(t, startSSO(t, e.URL, "corp", "/admin/"))
	u, _ = url.Parse(cb)
	q := u.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	u.RawQuery = q.Encode()
	if got := finish(t, e.URL, u.String(), "/admin/").Get("error"); got != "access_denied" {
		t.Fatalf("provider error: %q", got)
	}
	// An expired state (10 minutes) is refused.
	cb = authorize(t, startSSO(t, e.URL, "corp", "/admin/"))
	e.clock.use(roster.NewTestClock(e.clock.Now().Add(roster.LoginStateTTL + roster.LoginCodeTTL)))
	u, _ = url.Parse(cb)
	e.do("GET", u.RequestURI(), "", nil).expect(t, http.StatusBadRequest)
}

func TestSSOCodeExpiry(t *testing.T) { eachStore(t, testSSOCodeExpiry) }

func testSSOCodeExpiry(t *testing.T) {
	e := newEnv(t)
	idp := idptest.Start(t)
	e.createUser("jane", false, "janepass")
	e.addProvider(idp, "corp", map[string]any{"linkByEmail": true})
	code := e.signIn("corp").Get("code")
	e.clock.use(roster.NewTestClock(e.clock.Now().Add(roster.LoginCodeTTL + 1)))
	e.redeem(code).expect(t, http.StatusUnauthorized)
	e.redeem("").expect(t, http.StatusUnauthorized)
	e.do("POST", "/api/v3/auth/token", "", map[string]string{"code": "x", "username": "jane"}).expect(t, http.StatusBadRequest)
}

func TestSSOProviderAdmin(t *testing.T) { eachStore(t, testSSOProviderAdmin) }

func testSSOProviderAdmin(t *testing.T) {
	e := newEnv(t)
	idp := idptest.Start(t)
	// The discovery document must load.
	bad := e.do("POST", "/api/v3/auth/providers", e.AdminToken, map[string]any{"name": "nope", "displayName": "Nope",
		"issuer": idp.URL + "/missing", "clientId": "x"}).expect(t, http.StatusBadRequest).JSON(t)
	if !strings.Contains(string(mustJSON(bad["errors"])), "discovery") {
		t.Fatalf("400 does not say why: %v", bad)
	}
	e.do("POST", "/api/v3/auth/providers", e.AdminToken, map[string]any{"name": "Bad Name", "displayName": "x", "issuer": idp.URL,
		"clientId": "x"}).expect(t, http.StatusBadRequest)
	e.addProvider(idp, "corp", map[string]any{"groupsClaim": "groups"})
	e.do("POST", "/api/v3/auth/providers", e.AdminToken, map[string]any{"name": "corp", "displayName": "x", "issuer": idp.URL,
		"clientId": "x"}).expect(t, http.StatusConflict)
	full := e.do("GET", "/api/v3/auth/providers/corp", e.AdminToken, nil).expect(t, http.StatusOK)
	if strings.Contains(string(full.Body), idp.ClientSecret) {
		t.Fatalf("the secret is returned: %s", full.Body)
	}
	p := full.JSON(t)
	if p["hasClientSecret"] != true || p["usernameClaim"] != "preferred_username" || p["enabled"] != true ||
		strings.Join(toStrings(p["scopes"]), " ") != "openid email profile" {
		t.Fatalf("provider = %v", p)
	}
	// The public list shows enabled providers only, and no configuration.
	anon := e.do("GET", "/api/v3/auth/providers", "", nil).expect(t, http.StatusOK)
	if string(anon.Body) != `[{"name":"corp","displayName":"Test corp","type":"oidc"}]`+"\n" && string(anon.Body) != `[{"name":"corp","displayName":"Test corp","type":"oidc"}]` {
		t.Fatalf("public list = %s", anon.Body)
	}
	user := e.createUser("plain", false, "plainpass")
	if b := e.do("GET", "/api/v3/auth/providers", e.token(user), nil).expect(t, http.StatusOK).Body; strings.Contains(string(b), "issuer") {
		t.Fatalf("a non-admin sees the configuration: %s", b)
	}
	if b := e.do("GET", "/api/v3/auth/providers", e.AdminToken, nil).expect(t, http.StatusOK).Body; !strings.Contains(string(b), "clientId") {
		t.Fatalf("an admin does not see the configuration: %s", b)
	}
	e.do("GET", "/api/v3/auth/providers/corp", e.token(user), nil).expect(t, http.StatusForbidden)
	e.do("POST", "/api/v3/auth/providers", e.token(user), map[string]any{"name": "x"}).expect(t, http.StatusForbidden)
	// A new issuer needs the secret again: the stored one never goes to a
	// token endpoint an admin token merely names.
	other := idptest.Start(t)
	r := e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"issuer": other.URL}).expect(t, http.StatusBadRequest)
	if !strings.Contains(string(r.Body), "clientSecret") {
		t.Fatalf("issuer change without a secret: %s", r.Body)
	}
	// A disabled provider: not listed, no sign-in; a sign-in under way fails.
	cb := authorize(t, startSSO(t, e.URL, "corp", "/admin/"))
	e.do("PATCH", "/api/v3/auth/providers/corp", e.AdminToken, map[string]any{"enabled": false}).expect(t, http.StatusOK)
	if got := finish(t, e.URL, cb, "/admin/").Get("error"); got != "provider_disabled" {
		t.Fatalf("callback at a disabled provider: %q", got)
	}
	e.do("GET", "/api/v3/auth/oidc/corp/login?redirect_uri=/admin/", "", nil).expect(t, http.StatusForbidden)
	if b := e.do("GET", "/api/v3/auth/providers", "", nil).expect(t, http.StatusOK).Body; strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("public list with the provider disabled = %s", b)
	}
	e.do("GET", "/api/v3/auth/oidc/nope/login?redirect_uri=/admin/", "", nil).expect(t, http.StatusNotFound)
	// Changes are activities.
	verbs := e.activityVerbs(e.Admin.ID)
	for _, v := range []string{"auth.provider_created", "auth.provider_updated"} {
		if !slices.Contains(verbs, v) {
			t.Fatalf("admin's activities %v lack %s", verbs, v)
		}
	}
	e.do("DELETE", "/api/v3/auth/providers/corp", e.AdminToken, nil).expect(t, http.StatusNoContent)
	e.do("GET", "/api/v3/auth/providers/corp", e.AdminToken, nil).expect(t, http.StatusNotFound)
}

func TestSSONoOpenRedirect(t *testing.T) { eachStore(t, testSSONoOpenRedirect) }

func testSSONoOpenRedirect(t *testing.T) {
	e := newEnv(t)
	idp := idptest.Start(t)
	e.addProvider(idp, "corp", nil)
	for _, bad := range []string{"", "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
		"evil.example", "/admin/#x", "https://user@evil.example/"} {
		e.do("GET", "/api/v3/auth/oidc/corp/login?redirect_uri="+url.QueryEscape(bad), "", nil).expect(t, http.StatusBadRequest)
	}
	startSSO(t, e.URL, "corp", "/admin/?tab=users")
}

func TestSSOAllowedRedirectOrigin(t *testing.T) {
	e := newEnvWith(t, httpapi.Config{AllowedRedirectOrigins: []string{"https://app.example.com"}})
	idp := idptest.Start(t)
	e.createUser("jane", false, "janepass")
	e.addProvider(idp, "corp", map[string]any{"linkByEmail": true})
	e.do("GET", "/api/v3/auth/oidc/corp/login?redirect_uri="+url.QueryEscape("https://app.example.org/"), "", nil).expect(t, http.StatusBadRequest)
	frag := finish(t, e.URL, authorize(t, startSSO(t, e.URL, "corp", "https://app.example.com/signed-in")), "https://app.example.com/signed-in")
	e.redeem(frag.Get("code")).expect(t, http.StatusCreated)
}

func TestSSOGroupSync(t *testing.T) { eachStore(t, testSSOGroupSync) }

func testSSOGroupSync(t *testing.T) {
	e := newEnv(t)
	idp := idptest.Start(t)
	e.addProvider(idp, "corp", map[string]any{"autoCreate": true, "groupsClaim": "groups"})
	// A group made by hand is never touched.
	hand := e.do("POST", "/api/v3/groups", e.AdminToken, map[string]any{"name": "handmade"}).expect(t, http.StatusCreated).JSON(t)
	handID := int64(hand["id"].(float64))
	idp.SetClaims(map[string]any{"sub": "g-1", "email": "gina@example.com", "email_verified": true, "preferred_username": "gina",
		"groups": []string{"design", "ops", "handmade"}})
	tok, u := e.signInUser("corp")
	id := int64(u["id"].(float64))
	groups := func() []string {
		me := e.do("GET", "/api/v3/users/me", tok, nil).expect(t, http.StatusOK).JSON(t)
		var names []string
		for _, g := range me["groups"].([]any) {
			names = append(names, g.(map[string]any)["name"].(string))
		}
		slices.Sort(names)
		return names
	}
	if got := strings.Join(groups(), ","); got != "design,ops" {
		t.Fatalf("groups after the first sign-in = %s, want design,ops", got)
	}
	// An admin adds the user to the hand-made group; the provider drops ops
	// and adds qa.
	e.do("PUT", "/api/v3/groups/"+itoa(handID)+"/members/"+itoa(id), e.AdminToken, nil).expect(t, http.StatusNoContent)
	idp.SetClaims(map[string]any{"sub": "g-1", "email": "gina@example.com", "email_verified": true, "groups": []string{"design", "qa"}})
	tok, _ = e.signInUser("corp")
	if got := strings.Join(groups(), ","); got != "design,handmade,qa" {
		t.Fatalf("groups after the second sign-in = %s, want design,handmade,qa", got)
	}
	// No groups claim at all: every managed membership goes, hand-made stays.
	idp.SetClaims(map[string]any{"sub": "g-1", "email": "gina@example.com", "email_verified": true})
	tok, _ = e.signInUser("corp")
	if got := strings.Join(groups(), ","); got != "handmade" {
		t.Fatalf("groups after a sign-in without the claim = %s, want handmade", got)
	}
	var added, removed, created int
	for _, v := range e.activityVerbs(id) {
		switch v {
		case "group.member_added":
			added++
		case "group.member_removed":
			removed++
		case "group.created":
			created++
		}
	}
	if added != 3 || removed != 3 || created != 3 {
		t.Fatalf("activities: %d added, %d removed, %d created; want 3, 3, 3", added, removed, created)
	}
}

func TestSSOPasswordLoginOff(t *testing.T) { eachStore(t, testSSOPasswordLoginOff) }

func testSSOPasswordLoginOff(t *testing.T) {
	e := newEnvWith(t, httpapi.Config{NoPasswordLogin: true})
	idp := idptest.Start(t)
	jane := e.createUser("jane", false, "janepass")
	e.do("POST", "/api/v3/auth/token", "", map[string]string{"username": "jane", "password": "janepass"}).expect(t, http.StatusForbidden)
	e.addProvider(idp, "corp", map[string]any{"linkByEmail": true})
	tok, _ := e.signInUser("corp")
	e.do("GET", "/api/v3/users/me", tok, nil).expect(t, http.StatusOK)
	// With password sign-in off, a password is no way in: unlinking the
	// only identity is 409.
	e.do("DELETE", "/api/v3/users/"+itoa(jane.ID)+"/identities/corp", tok, nil).expect(t, http.StatusConflict)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestSSOTwoInstancesPostgres: two instances on one PostgreSQL database;
// a sign-in started on one finishes on the other (the state is stored),
// the code is redeemed on the first, and each is used once across both.
func TestSSOTwoInstancesPostgres(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Skip("set " + pgtest.EnvVar)
	}
	dsn := pgtest.URL(t)
	ctx := context.Background()
	start := func(migrate bool) *rostertest.Server {
		db, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if migrate {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		s, err := rostertest.New(ctx, db, rostertest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	a, b := start(true), start(false)
	admin, err := a.CreateUser(ctx, "admin", true, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(ctx, "jane", false, "janepass"); err != nil {
		t.Fatal(err)
	}
	ea := &env{t: t, db: a.DB, URL: a.URL, hasher: a.Hasher}
	ea.AdminToken = ea.token(admin)
	eb := &env{t: t, db: b.DB, URL: b.URL, hasher: b.Hasher}
	idp := idptest.Start(t)
	ea.addProvider(idp, "corp", map[string]any{"linkByEmail": true})
	// The provider added through A is listed by B.
	if body := eb.do("GET", "/api/v3/auth/providers", "", nil).expect(t, http.StatusOK).Body; !strings.Contains(string(body), `"corp"`) {
		t.Fatalf("instance B does not see the provider: %s", body)
	}
	cb := authorize(t, startSSO(t, a.URL, "corp", "/admin/"))
	frag := finish(t, b.URL, cb, "/admin/") // the callback lands on B
	code := frag.Get("code")
	if code == "" {
		t.Fatalf("callback on B: %v", frag)
	}
	// The state is spent on both instances.
	u, _ := url.Parse(cb)
	ea.do("GET", u.RequestURI(), "", nil).expect(t, http.StatusBadRequest)
	eb.do("GET", u.RequestURI(), "", nil).expect(t, http.StatusBadRequest)
	body := ea.redeem(code).expect(t, http.StatusCreated).JSON(t)
	if body["user"].(map[string]any)["username"] != "jane" {
		t.Fatalf("signed in as %v", body["user"])
	}
	eb.redeem(code).expect(t, http.StatusUnauthorized)
	eb.do("GET", "/api/v3/users/me", body["token"].(string), nil).expect(t, http.StatusOK)
}

// TestSSOThrottled: each sign-in step writes, so an anonymous flood from
// one address is bounded: past the burst, starts, callbacks and code
// exchanges answer 429 with Retry-After, and another address is not
// affected.
func TestSSOThrottled(t *testing.T) { eachStore(t, testSSOThrottled) }

func testSSOThrottled(t *testing.T) {
	e := newEnvWith(t, httpapi.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	installClock(e) // stopped: the bucket does not refill while the test runs
	idp := idptest.Start(t)
	e.addProvider(idp, "corp", nil)
	get := func(path, addr string) *http.Response {
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		req.Header.Set("X-Forwarded-For", addr)
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	start := "/api/v3/auth/oidc/corp/login?redirect_uri=/admin/"
	for i := range 120 {
		if res := get(start, "203.0.113.7"); res.StatusCode != http.StatusFound {
			t.Fatalf("start %d: %d", i+1, res.StatusCode)
		}
	}
	res := get(start, "203.0.113.7")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("start 121: %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := get("/api/v3/auth/oidc/corp/callback?state=x&code=y", "203.0.113.7"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("callback: %d, want 429", res.StatusCode)
	}
	e.do("POST", "/api/v3/auth/token", "", map[string]string{"code": "x"}, "X-Forwarded-For", "203.0.113.7").expect(t, http.StatusTooManyRequests)
	if res := get(start, "198.51.100.1"); res.StatusCode != http.StatusFound {
		t.Fatalf("another address: %d", res.StatusCode)
	}
}
