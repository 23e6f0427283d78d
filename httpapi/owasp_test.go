package httpapi_test

// OWASP API Security Top 10 (2023) cases. Where another file already holds
// a case to the contract, it is named here rather than repeated:
//
//   - API1 object-level authorization: TestOWASPObjectLevel (id guessing), and
//     TestAuthorizationMatrix / TestVisibilityAgreement (every route, every
//     principal; lists, counts, active workspaces and streams agree).
//   - API2 authentication: TestOWASPLoginFailuresIndistinguishable (status,
//     body and timing); TestExpiredTokens, TestLogoutRevokesOnlyThatToken,
//     TestTokenOfDeactivatedUser, TestTokenOfDeletedUser, TestBadAuthorization,
//     TestLoginThrottle*; the matrix's revoked, inactive and deleted columns.
//   - API3 object property level: TestOWASPMassAssignment.
//   - API4 resource consumption: TestOWASPResourceConsumption; page_size
//     clamping over 1000 real rows is TestUserListPageSizeLimits; the stream
//     cap (429 with Retry-After) is TestStreamPerUserCap; slow stream readers
//     are TestStreamSlowConsumerDropped; slowloris is TestSlowloris.
//   - API5 function level: TestOWASPEveryMethodOnEveryRoute, and the matrix
//     for non-admins on admin routes (every route x every kind of caller).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (e *env) mustWorkspace(name string, grants map[*roster.User]roster.Role) int64 {
	e.t.Helper()
	ws := &roster.Workspace{Name: name}
	if err := e.db.CreateWorkspace(context.Background(), e.Admin.ID, ws); err != nil {
		e.t.Fatal(err)
	}
	for u, role := range grants {
		if err := e.db.SetGrant(context.Background(), e.Admin.ID, ws.ID, &roster.Grant{Subject: roster.Subject{Type: "user", ID: u.ID}, Role: role}); err != nil {
			e.t.Fatal(err)
		}
	}
	return ws.ID
}

// TestOWASPObjectLevel: alice guesses ids of a workspace she has no access
// to and of bob's activities there; every answer looks like "absent".
func TestOWASPObjectLevel(t *testing.T) { eachStore(t, testOWASPObjectLevel) }

func testOWASPObjectLevel(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.createUser("alice", false, ""), e.createUser("bob", false, "")
	aTok, bTok := e.token(alice), e.token(bob)
	mine := e.mustWorkspace("Mine", map[*roster.User]roster.Role{alice: roster.RoleMember, bob: roster.RoleMember})
	secret := e.mustWorkspace("Secret", map[*roster.User]roster.Role{bob: roster.RoleAdmin})
	var secretIDs []int64
	for i := range 3 {
		r := e.do("POST", "/api/v3/activities", bTok, map[string]any{"verb": "doc.secret", "workspace": secret,
			"object": map[string]string{"type": "doc", "id": "s" + strconv.Itoa(i)}}).expect(t, http.StatusCreated)
		secretIDs = append(secretIDs, int64(r.JSON(t)["id"].(float64)))
	}
	e.do("POST", "/api/v3/activities", bTok, map[string]any{"verb": "doc.private"}).expect(t, http.StatusCreated)
	shared := e.do("POST", "/api/v3/activities", bTok, map[string]any{"verb": "doc.shared", "workspace": mine}).
		expect(t, http.StatusCreated).JSON(t)["id"].(float64)

	// Bob's feed as alice: only the activity in the shared workspace, under
	// every filter that names the secret workspace or its ids.
	bobFeed := "/api/v3/users/" + itoa(bob.ID) + "/activities"
	for _, q := range []string{"", "?workspace=" + itoa(secret), "?verb=doc.*", "?before=" + itoa(secretIDs[2]+1),
		"?since=2000-01-01T00:00:00Z", "?page_size=1000"} {
		body := e.do("GET", bobFeed+q, aTok, nil).expect(t, http.StatusOK).JSON(t)
		results := body["results"].([]any)
		for _, it := range results {
			if id := it.(map[string]any)["id"].(float64); id != shared {
				t.Errorf("%s%s shows activity %v to alice", bobFeed, q, id)
			}
		}
		if body["count"].(float64) != float64(len(results)) {
			t.Errorf("%s%s: count %v for %d visible results", bobFeed, q, body["count"], len(results))
		}
		count := e.do("GET", bobFeed+"/count"+q, aTok, nil).expect(t, http.StatusOK).JSON(t)["count"]
		if count != float64(len(results)) {
			t.Errorf("%s/count%s = %v, want %d", bobFeed, q, count, len(results))
		}
	}
	active := e.do("GET", "/api/v3/users/"+itoa(bob.ID)+"/activeworkspaces", aTok, nil).expect(t, http.StatusOK).JSON(t)
	for _, it := range active["results"].([]any) {
		if it.(map[string]any)["id"].(float64) == float64(secret) {
			t.Errorf("activeworkspaces shows the secret workspace to alice: %v", it)
		}
	}

	// Guessing workspace ids: the secret one answers exactly like one that
	// does not exist, for every read and write.
	absent := secret + 1000
	for _, route := range []struct{ method, path string }{
		{"GET", "/api/v3/workspaces/%d"}, {"GET", "/api/v3/workspaces/%d/activities"},
		{"GET", "/api/v3/workspaces/%d/permissions"}, {"GET", "/api/v3/workspaces/%d/members"},
		{"PATCH", "/api/v3/workspaces/%d"}, {"DELETE", "/api/v3/workspaces/%d"},
		{"PUT", "/api/v3/workspaces/%d/permissions/users/" + itoa(alice.ID)},
	} {
		var body any
		if route.method == "PATCH" {
			body = map[string]string{"name": "mine now"}
		} else if route.method == "PUT" {
			body = map[string]string{"role": "admin"}
		}
		got := e.do(route.method, strings.Replace(route.path, "%d", itoa(secret), 1), aTok, body).expect(t, http.StatusNotFound)
		ref := e.do(route.method, strings.Replace(route.path, "%d", itoa(absent), 1), aTok, body).expect(t, http.StatusNotFound)
		if !bytes.Equal(got.Body, ref.Body) {
			t.Errorf("%s %s: secret workspace answers %s, absent one %s", route.method, route.path, got.Body, ref.Body)
		}
	}
	for id := int64(1); id <= absent; id += max(1, (absent-secret)/20) {
		r := e.do("GET", "/api/v3/workspaces/"+itoa(id), aTok, nil)
		if want := http.StatusNotFound; id == mine {
			r.expect(t, http.StatusOK)
		} else {
			r.expect(t, want)
		}
	}
	// Posting into the secret workspace is refused alike whether it exists.
	p1 := e.do("POST", "/api/v3/activities", aTok, map[string]any{"verb": "x.y", "workspace": secret}).expect(t, http.StatusForbidden)
	p2 := e.do("POST", "/api/v3/activities", aTok, map[string]any{"verb": "x.y", "workspace": absent}).expect(t, http.StatusForbidden)
	if !bytes.Equal(p1.Body, p2.Body) {
		t.Errorf("posting to a hidden workspace answers %s, to an absent one %s", p1.Body, p2.Body)
	}
	// Nothing changed: alice got no grant, the name stayed.
	if role, err := e.db.WorkspaceRole(context.Background(), alice.ID, secret); err != nil || role != roster.NoRole {
		t.Fatalf("alice's role in the secret workspace = %v, %v", role, err)
	}
	if ws, err := e.db.FindWorkspaceByID(context.Background(), secret); err != nil || ws.Name != "Secret" {
		t.Fatalf("secret workspace after the attempts: %+v, %v", ws, err)
	}
}

// TestOWASPMassAssignment: a non-admin cannot set isAdmin or isActive, and
// read-only fields (id, dateJoined, ...) echoed back are ignored.
func TestOWASPMassAssignment(t *testing.T) { eachStore(t, testOWASPMassAssignment) }

func testOWASPMassAssignment(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.createUser("alice", false, ""), e.createUser("bob", false, "")
	tok := e.token(alice)
	self := "/api/v3/users/" + itoa(alice.ID)
	before := e.do("GET", self, tok, nil).expect(t, http.StatusOK).JSON(t)

	for _, body := range []map[string]any{
		{"isAdmin": true}, {"isActive": false}, {"isAdmin": true, "bio": "sneaky"},
	} {
		e.do("PATCH", self, tok, body).expect(t, http.StatusForbidden)
	}
	e.do("PUT", self, tok, map[string]any{"username": "alice", "email": "alice@example.com", "firstName": "", "lastName": "",
		"isActive": true, "isAdmin": true}).expect(t, http.StatusForbidden)
	e.do("PATCH", "/api/v3/users/"+itoa(bob.ID), tok, map[string]any{"firstName": "Pwned"}).expect(t, http.StatusForbidden)
	e.do("POST", "/api/v3/users", tok, map[string]any{"username": "eve", "email": "eve@example.com", "isAdmin": true}).
		expect(t, http.StatusForbidden)

	// Sending the current values is fine; read-only fields are ignored.
	after := e.do("PATCH", self, tok, map[string]any{"isAdmin": false, "isActive": true, "id": 9999,
		"dateJoined": "2000-01-01T00:00:00.000000Z", "lastLogin": "2000-01-01T00:00:00.000000Z",
		"groups": []map[string]any{{"id": 1, "name": "admins"}}, "bio": "changed"}).expect(t, http.StatusOK).JSON(t)
	for _, f := range []string{"id", "isAdmin", "isActive", "dateJoined", "lastLogin"} {
		if after[f] != before[f] {
			t.Errorf("%s changed from %v to %v", f, before[f], after[f])
		}
	}
	if after["bio"] != "changed" || len(after["groups"].([]any)) != 0 {
		t.Errorf("after the patch: %v", after)
	}
	u, err := e.db.FindUserByID(context.Background(), alice.ID)
	if err != nil || u.IsAdmin || !u.IsActive || u.ID != alice.ID || u.Bio != "changed" {
		t.Fatalf("stored alice: %+v, %v", u, err)
	}
	if _, err := e.db.FindUserByID(context.Background(), 9999); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("user 9999: %v", err)
	}

	// Activities: the actor is the caller unless an admin says otherwise;
	// id and published are the server's.
	e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": "doc.forged", "actor": bob.ID}).expect(t, http.StatusForbidden)
	start := time.Now().Add(-time.Minute)
	a := e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": "doc.own", "id": 1,
		"published": "2000-01-01T00:00:00Z"}).expect(t, http.StatusCreated).JSON(t)
	pub, _ := time.Parse(time.RFC3339Nano, a["published"].(string))
	if a["id"].(float64) == 1 || pub.Before(start) || a["actor"].(map[string]any)["id"].(float64) != float64(alice.ID) {
		t.Fatalf("posted activity took client values: %v", a)
	}
	forged, err := e.db.FindActivities(context.Background(), roster.ActivityFilter{Viewer: e.Admin, Verb: "doc.forged", Page: roster.Page{Limit: 10}})
	if err != nil || len(forged) != 0 {
		t.Fatalf("the forged activity was stored (%v): %+v", err, forged)
	}
}

// TestOWASPEveryMethodOnEveryRoute sends every method to every route
// anonymously: registered methods answer 401 (or their public answer),
// others 405 with an Allow header listing exactly the registered ones.
func TestOWASPEveryMethodOnEveryRoute(t *testing.T) { eachStore(t, testOWASPEveryMethodOnEveryRoute) }

func testOWASPEveryMethodOnEveryRoute(t *testing.T) {
	e := newEnv(t)
	patterns := httpapi.NewServer(httpapi.Config{Store: e.db}).Routes()
	type route struct{ method, path string }
	var routes []route
	paths := map[string]bool{}
	for _, p := range patterns {
		m, path, _ := strings.Cut(p, " ")
		routes = append(routes, route{m, path})
		paths[path] = true
	}
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true,
		"GET /api/v3/openapi.json": true, "POST /api/v3/auth/token": true,
		"GET /api/v3/auth/providers": true, "GET /api/v3/auth/oidc/{name}/login": true, "GET /api/v3/auth/oidc/{name}/callback": true,
		"GET /api/v3/docs": true, "GET /admin/": true, "GET /{$}": true} // the API reference and the console, when present
	matches := func(pattern, path string) bool {
		ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
		if len(ps) != len(ss) {
			return false
		}
		for i := range ps {
			if ps[i] != ss[i] && !strings.HasPrefix(ps[i], "{") {
				return false
			}
		}
		return true
	}
	concrete := strings.NewReplacer("{id}", "1", "{userId}", "1", "{groupId}", "1", "{$}", "")
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}
	checked := 0
	for path := range paths {
		url := concrete.Replace(path)
		// Methods of every pattern matching the concrete path (/users/me
		// also matches /users/{id}).
		allowed := map[string]bool{}
		for _, r := range routes {
			if matches(r.path, url) {
				allowed[r.method] = true
				if r.method == "GET" {
					allowed["HEAD"] = true
				}
			}
		}
		var allow []string
		for m := range allowed {
			allow = append(allow, m)
		}
		sort.Strings(allow)
		for _, m := range methods {
			r := e.do(m, url, "", nil)
			checked++
			label := m + " " + url
			switch {
			case !allowed[m]:
				if r.Status != http.StatusMethodNotAllowed {
					t.Errorf("%s: %d, want 405", label, r.Status)
					continue
				}
				got := strings.Split(r.Header.Get("Allow"), ", ")
				sort.Strings(got)
				if !slices.Equal(got, allow) {
					t.Errorf("%s: Allow %q, want %v", label, r.Header.Get("Allow"), allow)
				}
				if m != "HEAD" {
					r.expect(t, http.StatusMethodNotAllowed)
				}
			case public[m+" "+path] || (m == "HEAD" && public["GET "+path]):
				if r.Status >= 500 || r.Status == http.StatusUnauthorized || r.Status == http.StatusMethodNotAllowed {
					t.Errorf("%s (public): %d", label, r.Status)
				}
			default:
				if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s anonymously: %d (WWW-Authenticate %q), want 401", label, r.Status, r.Header.Get("WWW-Authenticate"))
				}
			}
		}
	}
	t.Logf("%d method x path pairs checked over %d routes", checked, len(patterns))
}

// chunked sends body without a Content-Length, so that only the server's
// reading limit can stop it.
func (e *env) chunked(method, path, token, body string) *resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, struct{ io.Reader }{strings.NewReader(body)})
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if req.ContentLength != 0 { // 0 with a body: length unknown, sent chunked
		e.t.Fatalf("request has Content-Length %d", req.ContentLength)
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// TestOWASPResourceConsumption: huge page sizes, bodies, nesting and query
// strings are refused or clamped, never a 5xx.
func TestOWASPResourceConsumption(t *testing.T) { eachStore(t, testOWASPResourceConsumption) }

func testOWASPResourceConsumption(t *testing.T) {
	e := newEnv(t)
	alice := e.createUser("alice", false, "")
	ws := e.mustWorkspace("W", map[*roster.User]roster.Role{alice: roster.RoleMember})
	g := &roster.Group{Name: "G"}
	if err := e.db.CreateGroup(context.Background(), e.Admin.ID, g); err != nil {
		t.Fatal(err)
	}

	t.Run("page_size", func(t *testing.T) {
		for _, path := range []string{"/api/v3/users", "/api/v3/users/search?q=a", "/api/v3/workspaces", "/api/v3/groups",
			"/api/v3/users/1/activities", "/api/v3/users/1/activeworkspaces", "/api/v3/workspaces/" + itoa(ws) + "/activities",
			"/api/v3/workspaces/" + itoa(ws) + "/permissions", "/api/v3/workspaces/" + itoa(ws) + "/members",
			"/api/v3/groups/" + itoa(g.ID) + "/members"} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			for _, size := range []string{"1000000000", "99999999999999999999999999"} {
				body := e.do("GET", path+sep+"page_size="+size, e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
				if n := len(body["results"].([]any)); n > httpapi.MaxPageSize {
					t.Errorf("%s page_size=%s: %d results", path, size, n)
				}
			}
			e.do("GET", path+sep+"page=4611686018427387904&page_size=1000", e.AdminToken, nil).expect(t, http.StatusNotFound)
		}
	})

	writes := []struct{ method, path, field string }{
		{"POST", "/api/v3/users", "bio"}, {"PUT", "/api/v3/users/" + itoa(alice.ID), "bio"},
		{"PATCH", "/api/v3/users/" + itoa(alice.ID), "bio"}, {"POST", "/api/v3/auth/token", "password"},
		{"POST", "/api/v3/workspaces", "name"}, {"PATCH", "/api/v3/workspaces/" + itoa(ws), "name"},
		{"PUT", "/api/v3/workspaces/" + itoa(ws) + "/permissions/users/" + itoa(alice.ID), "role"},
		{"PUT", "/api/v3/workspaces/" + itoa(ws) + "/permissions/groups/" + itoa(g.ID), "role"},
		{"POST", "/api/v3/groups", "name"}, {"PATCH", "/api/v3/groups/" + itoa(g.ID), "name"},
		{"POST", "/api/v3/activities", "verb"},
	}
	t.Run("bodies over 1 MiB", func(t *testing.T) {
		for _, w := range writes {
			pad := `{"` + w.field + `":"` + strings.Repeat("x", httpapi.MaxBodySize) + `"}`
			e.do(w.method, w.path, e.AdminToken, pad).expect(t, http.StatusRequestEntityTooLarge)
			// Chunked, so that only the reader's limit can stop it.
			e.chunked(w.method, w.path, e.AdminToken, pad).expect(t, http.StatusRequestEntityTooLarge)
			// Just under the limit is read, and refused for what it says.
			under := `{"` + w.field + `":"` + strings.Repeat("x", httpapi.MaxBodySize-100) + `"}`
			if r := e.do(w.method, w.path, e.AdminToken, under); r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s with %d bytes: %d, want 400 (401 for login)", w.method, w.path, len(under), r.Status)
			}
		}
	})
	t.Run("nesting 10000 deep", func(t *testing.T) {
		deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
		deepObj := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
		for _, w := range writes {
			for _, body := range []string{deep, deepObj, `{"` + w.field + `":` + deep + `}`, `{"` + w.field + `":` + deepObj + `}`} {
				e.do(w.method, w.path, e.AdminToken, body).expect(t, http.StatusBadRequest)
			}
		}
		e.do("POST", "/api/v3/activities", e.AdminToken, `{"verb":"a.b","data":{"x":`+deep+`}}`).expect(t, http.StatusBadRequest)
		e.do("POST", "/api/v3/activities", e.AdminToken, `{"verb":"a.b","object":`+deepObj+`}`).expect(t, http.StatusBadRequest)
	})
	t.Run("1 MB q", func(t *testing.T) {
		// Through httptest's server (1 MiB header limit) and through the
		// production http.Server (64 KiB): 400, 414 or 431, never a 5xx.
		prod := httpapi.NewHTTPServer("127.0.0.1:0", e.srv.Config.Handler, slog.New(slog.DiscardHandler))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go prod.Serve(ln)
		defer prod.Close()
		for _, base := range []string{e.URL, "http://" + ln.Addr().String()} {
			for _, n := range []int{1000, 100_000, 1_000_000} {
				req, _ := http.NewRequest("GET", base+"/api/v3/users/search?q="+strings.Repeat("a", n), nil)
				req.Header.Set("Authorization", "Bearer "+e.AdminToken)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("q of %d bytes: %v", n, err)
				}
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusBadRequest, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
				default:
					t.Errorf("%s: q of %d bytes: %d", base, n, res.StatusCode)
				}
			}
		}
	})
}

// TestOWASPLoginFailuresIndistinguishable: an unknown user and a wrong
// password get the same status and body, and take about as long (both
// verify one argon2id hash). Medians of interleaved attempts must be within
// 50% of each other: generous, since the machine is shared.
func TestOWASPLoginFailuresIndistinguishable(t *testing.T) {
	eachStore(t, testOWASPLoginFailuresIndistinguishable)
}

func testOWASPLoginFailuresIndistinguishable(t *testing.T) {
	e := newEnv(t)
	e.createUser("dave", false, "dave-pass-1")
	const n = 10
	var known, unknown []time.Duration
	var knownBody []byte
	attempt := func(user string) (time.Duration, *resp) {
		start := time.Now()
		r := e.login(user, "wrong-password")
		d := time.Since(start)
		expectUnauthorized(t, r)
		return d, r
	}
	attempt("dave") // warm up connections and caches
	attempt("nobody")
	for i := range n {
		// Unknown names vary, as an attacker's guesses would. The order
		// alternates, so that a GC cycle that falls on every other argon2
		// allocation (19 MiB each) cannot favour one kind.
		var d1, d2 time.Duration
		var r1, r2 *resp
		if i%2 == 0 {
			d1, r1 = attempt("dave")
			d2, r2 = attempt("nobody" + strconv.Itoa(i))
		} else {
			d2, r2 = attempt("nobody" + strconv.Itoa(i))
			d1, r1 = attempt("dave")
		}
		known, unknown = append(known, d1), append(unknown, d2)
		if knownBody == nil {
			knownBody = r1.Body
		}
		if !bytes.Equal(r1.Body, knownBody) || !bytes.Equal(r2.Body, knownBody) {
			t.Fatalf("failure bodies differ: %s vs %s", r1.Body, r2.Body)
		}
	}
	median := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	mk, mu := median(known), median(unknown)
	t.Logf("median login failure: wrong password %v, unknown user %v", mk, mu)
	lo, hi := min(mk, mu), max(mk, mu)
	if float64(hi) > 1.5*float64(lo) {
		t.Errorf("wrong password median %v vs unknown user median %v: more than 50%% apart", mk, mu)
	}
}
