package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Functional tests of posted and recorded activities, the feeds, counts and
// active workspaces. Helpers carry an "af" prefix so that they cannot collide
// with those of the other test files of the package.

const afActivities = "/api/v3/activities"

// afClock makes the store's clock settable; install it before any request.
type afClock struct{ ns atomic.Int64 }

func afSetClock(e *env, t time.Time) *afClock {
	c := &afClock{}
	c.ns.Store(t.UnixNano())
	e.clock.use(c)
	return c
}

func (c *afClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

func (c *afClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// afFormat is how the API writes t.
func afFormat(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

type afActor struct {
	ID       int64   `json:"id"`
	Username *string `json:"username"`
}

type afObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type afWorkspaceRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type afActivity struct {
	ID        int64           `json:"id"`
	Actor     afActor         `json:"actor"`
	Verb      string          `json:"verb"`
	Object    *afObject       `json:"object"`
	Workspace *afWorkspaceRef `json:"workspace"`
	Data      json.RawMessage `json:"data"`
	Published string          `json:"published"`
}

var afActivityKeys = []string{"id", "actor", "verb", "object", "workspace", "data", "published"}

// afDecode checks the exact shape of one activity object and decodes it.
func afDecode(t *testing.T, raw []byte) afActivity {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("activity is not a JSON object: %s", raw)
	}
	wfKeys(t, m, afActivityKeys...)
	actor, ok := m["actor"].(map[string]any)
	if !ok {
		t.Fatalf("actor is not an object: %s", raw)
	}
	wfKeys(t, actor, "id", "username")
	if ws, ok := m["workspace"].(map[string]any); ok {
		wfKeys(t, ws, "id", "name")
	} else if m["workspace"] != nil {
		t.Fatalf("workspace is neither an object nor null: %s", raw)
	}
	if obj, ok := m["object"].(map[string]any); ok {
		wfKeys(t, obj, "type", "id", "name")
	} else if m["object"] != nil {
		t.Fatalf("object is neither an object nor null: %s", raw)
	}
	if _, ok := m["data"].(map[string]any); !ok {
		t.Fatalf("data is not an object: %s", raw)
	}
	var a afActivity
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if a.ID < 1 || !utTimeRE.MatchString(a.Published) {
		t.Fatalf("bad id or published: %s", raw)
	}
	return a
}

// afPost posts an activity as token and returns the 201 body.
func afPost(t *testing.T, e *env, token string, body map[string]any) afActivity {
	t.Helper()
	r := e.do("POST", afActivities, token, body).expect(t, http.StatusCreated)
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return afDecode(t, r.Body)
}

// afFeed GETs one page of a feed and decodes it.
func afFeed(t *testing.T, e *env, path, token string) (wfPage, []afActivity) {
	t.Helper()
	p := wfList(t, e, path, token)
	out := make([]afActivity, len(p.Results))
	for i, raw := range p.Results {
		out[i] = afDecode(t, raw)
	}
	return p, out
}

func afIDs(list []afActivity) []int64 {
	ids := make([]int64, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	return ids
}

// afCount GETs an activities/count and checks its exact body.
func afCount(t *testing.T, e *env, path, token string) int {
	t.Helper()
	r := e.do("GET", path, token, nil).expect(t, http.StatusOK)
	m := r.JSON(t)
	wfKeys(t, m, "count")
	n, ok := m["count"].(float64)
	if !ok {
		t.Fatalf("count is not a number: %s", r.Body)
	}
	return int(n)
}

func afUserFeed(id int64) string { return "/api/v3/users/" + wfID(id) + "/activities" }

// afVerbFeed returns the actor's activities of one verb, newest first, as the
// admin sees them.
func afVerbFeed(t *testing.T, e *env, actor int64, verb string) []afActivity {
	t.Helper()
	_, list := afFeed(t, e, afUserFeed(actor)+"?page_size=1000&verb="+url.QueryEscape(verb), e.AdminToken)
	return list
}

func afData(t *testing.T, a afActivity) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func afName(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// afUser stores a user created by the admin, so that its own feed starts
// empty (a user stored with actor 0 records its own user.created).
func afUser(t *testing.T, e *env, username string) *roster.User {
	t.Helper()
	u := &roster.User{Username: username, Email: username + "@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := e.db.CreateUser(t.Context(), e.Admin.ID, u, ""); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// afToken makes a bearer token for u that expires at exp (store time).
func afToken(t *testing.T, e *env, u *roster.User, exp time.Time) string {
	t.Helper()
	secret, hash := roster.NewTokenSecret()
	if err := e.db.CreateToken(t.Context(), &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// ---------------------------------------------------------------- POST

func TestActivityCreate(t *testing.T) { eachStore(t, testActivityCreate) }

func testActivityCreate(t *testing.T) {
	e := newEnv(t)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Add(123456789)
	clock := afSetClock(e, at)
	ws := wfNewWorkspace(t, e, "Marketing")
	alice := afUser(t, e, "alice")
	aliceTok := e.token(alice)
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", alice.ID, "alice", "member")

	r := e.do("POST", afActivities, aliceTok, map[string]any{
		"verb":      "document.created",
		"object":    map[string]any{"type": "document", "id": "d-77", "name": "Q3 plan"},
		"workspace": ws.ID,
		"data":      map[string]any{"pages": 3, "tags": []string{"plan", "q3"}, "nested": map[string]any{"ok": true}},
	}).expect(t, http.StatusCreated)
	a := afDecode(t, r.Body)
	var got map[string]any
	_ = json.Unmarshal(r.Body, &got)
	want := map[string]any{
		"id":        float64(a.ID),
		"actor":     map[string]any{"id": float64(alice.ID), "username": "alice"},
		"verb":      "document.created",
		"object":    map[string]any{"type": "document", "id": "d-77", "name": "Q3 plan"},
		"workspace": map[string]any{"id": float64(ws.ID), "name": "Marketing"},
		"data":      map[string]any{"pages": float64(3), "tags": []any{"plan", "q3"}, "nested": map[string]any{"ok": true}},
		"published": "",
	}
	want["published"] = afFormat(at.Truncate(time.Microsecond))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("POST answered\n %s\nwant %v", r.Body, want)
	}

	// The feed shows the same activity.
	_, list := afFeed(t, e, afUserFeed(alice.ID), aliceTok)
	if len(list) != 1 {
		t.Fatalf("alice's feed has %d activities", len(list))
	}
	var fromFeed map[string]any
	p := wfList(t, e, afUserFeed(alice.ID), aliceTok)
	_ = json.Unmarshal(p.Results[0], &fromFeed)
	if !reflect.DeepEqual(fromFeed, got) {
		t.Fatalf("feed shows %v, POST answered %v", fromFeed, got)
	}

	// workspace, object and data may be omitted or null; ids increase.
	last := a.ID
	for i, body := range []map[string]any{
		{"verb": "session.ping"},
		{"verb": "session.ping", "workspace": nil, "object": nil},
		{"verb": "note.added", "object": map[string]any{"type": "note"}, "data": map[string]any{}},
		{"verb": "note.added", "object": map[string]any{"type": "note", "id": 77, "name": "seventy-seven"}, "workspace": ws.ID},
	} {
		clock.set(at.Add(time.Duration(i+1) * time.Second))
		b := afPost(t, e, aliceTok, body)
		if b.ID <= last {
			t.Fatalf("id %d after %d: ids must increase", b.ID, last)
		}
		last = b.ID
		if b.Actor.ID != alice.ID || afName(b.Actor.Username) != "alice" || b.Verb != body["verb"] {
			t.Fatalf("activity %d: %+v", i, b)
		}
		if b.Published != afFormat(at.Add(time.Duration(i+1)*time.Second)) {
			t.Fatalf("published = %s", b.Published)
		}
		if (body["workspace"] == nil) != (b.Workspace == nil) {
			t.Fatalf("activity %d workspace = %+v", i, b.Workspace)
		}
		if i < 2 && (b.Object != nil || string(b.Data) != "{}") {
			t.Fatalf("activity %d: object %+v data %s, want null and {}", i, b.Object, b.Data)
		}
		if i == 2 && (b.Object == nil || *b.Object != afObject{Type: "note"}) {
			t.Fatalf("object with only a type: %+v", b.Object)
		}
		if i == 3 && (b.Object == nil || b.Object.ID != "77" || b.Workspace == nil || b.Workspace.ID != ws.ID) {
			t.Fatalf("numeric object id: %+v %+v", b.Object, b.Workspace)
		}
	}

	// data comes back as sent: big numbers keep their digits.
	r = e.do("POST", afActivities, aliceTok, `{"verb":"x.y","data":{"n":12345678901234567890123,"f":1.50,"s":"<a&b>"}}`).expect(t, http.StatusCreated)
	if d := afDecode(t, r.Body).Data; string(d) != `{"n":12345678901234567890123,"f":1.50,"s":"<a&b>"}` {
		t.Fatalf("data came back as %s", d)
	}
	last = afDecode(t, r.Body).ID

	// Read-only fields echoed back are ignored.
	b := afPost(t, e, aliceTok, map[string]any{"verb": "x.y", "id": 1, "published": "2000-01-01T00:00:00Z"})
	if b.ID <= last || strings.HasPrefix(b.Published, "2000") {
		t.Fatalf("read-only fields were taken: %+v", b)
	}
}

func TestActivityCreateValidation(t *testing.T) { eachStore(t, testActivityCreateValidation) }

func testActivityCreateValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.AdminToken
	before := afCount(t, e, afUserFeed(e.Admin.ID)+"/count", tok)
	bad := func(field string, body any) {
		t.Helper()
		r := e.do("POST", afActivities, tok, body)
		wfExpectField(t, r, http.StatusBadRequest, field)
		utExpect(t, r, http.StatusBadRequest)
	}

	bad("verb", map[string]any{})
	bad("verb", map[string]any{"data": map[string]any{}})
	for _, v := range []any{"", "Document.created", "document..created", "document.", ".document", "1document",
		"document-created", "document.Created", "doc created", "document.1x", "_doc", "dóc", "document.*",
		"a" + strings.Repeat("b", 64), 7, nil, true} {
		bad("verb", map[string]any{"verb": v})
	}
	for _, v := range []string{"a", "a.b", "doc_v2.created_at", "a1.b2.c3", "a" + strings.Repeat("b", 63)} {
		if a := afPost(t, e, tok, map[string]any{"verb": v}); a.Verb != v {
			t.Fatalf("verb %q stored as %q", v, a.Verb)
		}
	}

	// data: a JSON object of at most 8 KiB.
	for _, d := range []any{[]any{}, "x", 5, true, []any{map[string]any{}}} {
		bad("data", map[string]any{"verb": "a.b", "data": d})
	}
	// {"k":"…"} compacts to 8 bytes plus the string.
	exact := `{"verb":"a.b","data":{"k":"` + strings.Repeat("x", 8192-8) + `"}}`
	a := afPost(t, e, tok, afMap(t, exact))
	if len(a.Data) != 8192 {
		t.Fatalf("8192-byte data came back as %d bytes", len(a.Data))
	}
	bad("data", `{"verb":"a.b","data":{"k":"`+strings.Repeat("x", 8193-8)+`"}}`)
	bad("data", `{"verb":"a.b","data":{"k":"`+strings.Repeat("é", 4096)+`"}}`) // 8200 bytes in UTF-8

	// object: {"type", "id", "name"} with a type, or null.
	for _, o := range []any{"doc", 5, []any{}, map[string]any{}, map[string]any{"id": "1"},
		map[string]any{"type": ""}, map[string]any{"type": 5}, map[string]any{"type": "d", "name": 5},
		map[string]any{"type": "d", "id": true}, map[string]any{"type": "d", "url": "x"},
		map[string]any{"type": strings.Repeat("t", 65)}, map[string]any{"type": "d", "name": strings.Repeat("n", 256)},
		map[string]any{"type": "d", "id": strings.Repeat("i", 256)}} {
		bad("object", map[string]any{"verb": "a.b", "object": o})
	}
	long := afPost(t, e, tok, map[string]any{"verb": "a.b", "object": map[string]any{"type": strings.Repeat("t", 64),
		"id": strings.Repeat("i", 255), "name": strings.Repeat("ñ", 255)}})
	if long.Object == nil || long.Object.Name != strings.Repeat("ñ", 255) {
		t.Fatalf("longest object: %+v", long.Object)
	}

	// workspace: a positive integer or null; actor: an integer.
	for _, w := range []any{"1", 0, -1, 1.5, true, map[string]any{"id": 1}} {
		bad("workspace", map[string]any{"verb": "a.b", "workspace": w})
	}
	for _, act := range []any{"1", 1.5, map[string]any{"id": 1}} {
		bad("actor", map[string]any{"verb": "a.b", "actor": act})
	}

	// Unknown fields, bad JSON, wrong media type.
	r := e.do("POST", afActivities, tok, map[string]any{"verb": "a.b", "target": 1})
	wfExpectField(t, r, http.StatusBadRequest, "target")
	e.do("POST", afActivities, tok, `{"verb": "a.b"`).expect(t, http.StatusBadRequest)
	e.do("POST", afActivities, tok, `["a.b"]`).expect(t, http.StatusBadRequest)
	e.do("POST", afActivities, tok, `{"verb":"a.b"}`, "Content-Type", "text/plain").expect(t, http.StatusUnsupportedMediaType)

	// Only the valid posts were stored.
	if n := afCount(t, e, afUserFeed(e.Admin.ID)+"/count", tok); n != before+7 {
		t.Fatalf("admin's activities: %d, want %d", n, before+7)
	}
}

// afMap decodes a JSON object literal for afPost.
func afMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestActivityCreateAccess(t *testing.T) { eachStore(t, testActivityCreateAccess) }

func testActivityCreateAccess(t *testing.T) {
	e := newEnv(t)
	ws := wfNewWorkspace(t, e, "Docs")
	alice := afUser(t, e, "alice") // viewer: any role means access
	bob := afUser(t, e, "bob")     // no access
	carol := afUser(t, e, "carol") // access through a group
	aliceTok, bobTok, carolTok := e.token(alice), e.token(bob), e.token(carol)
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", alice.ID, "alice", "viewer")
	design := wfNewGroup(t, e, "design")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", design.ID, "design", "member")
	wfAddMember(t, e, design.ID, carol.ID)

	in := func(extra map[string]any) map[string]any {
		b := map[string]any{"verb": "document.created", "workspace": ws.ID}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	var ids []int64
	for _, c := range []struct {
		tok  string
		user *roster.User
	}{{aliceTok, alice}, {carolTok, carol}, {e.AdminToken, e.Admin}} {
		a := afPost(t, e, c.tok, in(nil))
		if a.Actor.ID != c.user.ID || a.Workspace == nil || *a.Workspace != (afWorkspaceRef{ws.ID, "Docs"}) {
			t.Fatalf("%s posted %+v", c.user.Username, a)
		}
		ids = append(ids, a.ID)
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("ids %v do not increase", ids)
	}

	// No access: 403, also for a workspace that does not exist.
	e.do("POST", afActivities, bobTok, in(nil)).expect(t, http.StatusForbidden)
	e.do("POST", afActivities, bobTok, in(map[string]any{"workspace": 999})).expect(t, http.StatusForbidden)
	if a := afPost(t, e, bobTok, map[string]any{"verb": "note.added", "workspace": nil}); a.Workspace != nil {
		t.Fatalf("workspace null posted %+v", a.Workspace)
	}

	// An admin may post for another user who has access.
	a := afPost(t, e, e.AdminToken, in(map[string]any{"actor": alice.ID}))
	if a.Actor.ID != alice.ID || afName(a.Actor.Username) != "alice" {
		t.Fatalf("admin posting for alice gave actor %+v", a.Actor)
	}
	if feed := afVerbFeed(t, e, alice.ID, "document.created"); len(feed) != 2 || feed[0].ID != a.ID {
		t.Fatalf("alice's feed: %v", afIDs(feed))
	}
	if a := afPost(t, e, e.AdminToken, map[string]any{"verb": "x.y", "actor": bob.ID}); a.Actor.ID != bob.ID {
		t.Fatalf("admin posting for bob without workspace: %+v", a.Actor)
	}
	// ... but not into a workspace the actor cannot access, nor for nobody.
	r := e.do("POST", afActivities, e.AdminToken, in(map[string]any{"actor": bob.ID})).expect(t, http.StatusBadRequest)
	utExpect(t, r, http.StatusBadRequest)
	if len(wfFieldErrors(t, r)) == 0 {
		t.Fatalf("400 without field errors: %s", r.Body)
	}
	wfExpectField(t, e.do("POST", afActivities, e.AdminToken, in(map[string]any{"actor": 999})), http.StatusBadRequest, "actor")
	wfExpectField(t, e.do("POST", afActivities, e.AdminToken, in(map[string]any{"workspace": 999})), http.StatusBadRequest, "workspace")

	// A non-admin may not post for someone else, even with access.
	e.do("POST", afActivities, aliceTok, in(map[string]any{"actor": carol.ID})).expect(t, http.StatusForbidden)
	e.do("POST", afActivities, bobTok, map[string]any{"verb": "x.y", "actor": alice.ID}).expect(t, http.StatusForbidden)
	e.do("POST", afActivities, aliceTok, map[string]any{"verb": "x.y", "actor": 999}).expect(t, http.StatusForbidden)
	if a := afPost(t, e, aliceTok, in(map[string]any{"actor": alice.ID})); a.Actor.ID != alice.ID {
		t.Fatalf("alice naming herself: %+v", a.Actor)
	}

	// Losing access closes the workspace to posts.
	wfRemoveMember(t, e, design.ID, carol.ID)
	e.do("POST", afActivities, carolTok, in(nil)).expect(t, http.StatusForbidden)

	// Only the accepted posts were stored.
	counts := map[int64]int{alice.ID: 3, bob.ID: 2, carol.ID: 1}
	for id, want := range counts {
		if n := afCount(t, e, afUserFeed(id)+"/count", e.AdminToken); n != want {
			t.Fatalf("user %d has %d activities, want %d", id, n, want)
		}
	}
}

// ---------------------------------------------------------------- recorded

func TestSystemActivities(t *testing.T) { eachStore(t, testSystemActivities) }

func testSystemActivities(t *testing.T) {
	e := newEnv(t)
	adminFeed := func(verb string) []afActivity { t.Helper(); return afVerbFeed(t, e, e.Admin.ID, verb) }

	// user.created, by the admin who created the user.
	r := e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "newbie", "email": "newbie@example.com"}).expect(t, http.StatusCreated)
	id := int64(r.JSON(t)["id"].(float64))
	created := adminFeed("user.created") // the admin's own, then newbie
	if len(created) != 2 || *created[1].Object != (afObject{"user", wfID(e.Admin.ID), "admin"}) || created[0].Object == nil || *created[0].Object != (afObject{"user", wfID(id), "newbie"}) ||
		created[0].Actor.ID != e.Admin.ID || created[0].Workspace != nil {
		t.Fatalf("user.created: %+v", created)
	}

	// user.updated lists the changed fields only; a password is named, never shown.
	const secret = "Sup3r-secret-passphrase"
	e.do("PATCH", "/api/v3/users/"+wfID(id), e.AdminToken, map[string]any{"firstName": "New", "lastName": "", "bio": "hi",
		"password": secret}).expect(t, http.StatusOK)
	updated := adminFeed("user.updated")
	if len(updated) != 1 {
		t.Fatalf("user.updated: %d activities", len(updated))
	}
	fields, _ := afData(t, updated[0])["fields"].([]any)
	var names []string
	for _, f := range fields {
		names = append(names, f.(string))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"bio", "firstName", "password"}) {
		t.Fatalf("user.updated fields = %v (data %s), want bio, firstName, password", names, updated[0].Data)
	}
	if *updated[0].Object != (afObject{"user", wfID(id), "newbie"}) {
		t.Fatalf("user.updated object = %+v", updated[0].Object)
	}
	hash, err := e.db.FindPasswordHash(t.Context(), id)
	if err != nil || hash == "" {
		t.Fatalf("password hash: %q %v", hash, err)
	}
	for _, path := range []string{afUserFeed(e.Admin.ID) + "?page_size=1000", "/api/v3/users/" + wfID(id)} {
		body := e.do("GET", path, e.AdminToken, nil).expect(t, http.StatusOK).Body
		for _, leak := range []string{secret, hash, "argon2", "passwordHash"} {
			if bytes.Contains(body, []byte(leak)) {
				t.Fatalf("%s shows %q: %s", path, leak, body)
			}
		}
	}
	// A user editing itself is the actor.
	newbieTok := e.token(&roster.User{ID: id})
	e.do("PATCH", "/api/v3/users/"+wfID(id), newbieTok, map[string]any{"timezone": "Europe/Paris", "firstName": "New"}).expect(t, http.StatusOK)
	self := afVerbFeed(t, e, id, "user.updated")
	if len(self) != 1 || !reflect.DeepEqual(afData(t, self[0]), map[string]any{"fields": []any{"timezone"}}) {
		t.Fatalf("self update: %+v", self)
	}

	// auth.login, with the user as actor.
	e.createUser("loggy", false, "loggy-password")
	r = e.do("POST", "/api/v3/auth/token", "", map[string]any{"username": "loggy", "password": "loggy-password"}).expect(t, http.StatusCreated)
	loggy := int64(r.JSON(t)["user"].(map[string]any)["id"].(float64))
	logins := afVerbFeed(t, e, loggy, "auth.login")
	if len(logins) != 1 || logins[0].Actor.ID != loggy || afName(logins[0].Actor.Username) != "loggy" {
		t.Fatalf("auth.login: %+v", logins)
	}
	e.do("POST", "/api/v3/auth/token", "", map[string]any{"username": "loggy", "password": "wrong-password"}).expect(t, http.StatusUnauthorized)
	if n := len(afVerbFeed(t, e, loggy, "auth.login")); n != 1 {
		t.Fatalf("a failed login recorded auth.login (%d)", n)
	}

	// workspace.created, in the new workspace.
	ws := wfNewWorkspace(t, e, "Growth")
	wsCreated := adminFeed("workspace.created")
	if len(wsCreated) != 1 || *wsCreated[0].Object != (afObject{"workspace", wfID(ws.ID), "Growth"}) ||
		wsCreated[0].Workspace == nil || *wsCreated[0].Workspace != (afWorkspaceRef{ws.ID, "Growth"}) {
		t.Fatalf("workspace.created: %+v", wsCreated)
	}

	// workspace.permission_granted / _revoked with the role.
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", id, "newbie", "member")
	design := wfNewGroup(t, e, "design")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", design.ID, "design", "viewer")
	e.do("DELETE", wfGrantPath(ws.ID, "users", id), e.AdminToken, nil).expect(t, http.StatusNoContent)
	granted := adminFeed("workspace.permission_granted")
	if len(granted) != 2 ||
		*granted[1].Object != (afObject{"user", wfID(id), "newbie"}) || !reflect.DeepEqual(afData(t, granted[1]), map[string]any{"role": "member"}) ||
		*granted[0].Object != (afObject{"group", wfID(design.ID), "design"}) || !reflect.DeepEqual(afData(t, granted[0]), map[string]any{"role": "viewer"}) ||
		granted[0].Workspace == nil || granted[0].Workspace.ID != ws.ID {
		t.Fatalf("permission_granted: %+v", granted)
	}
	revoked := adminFeed("workspace.permission_revoked")
	if len(revoked) != 1 || *revoked[0].Object != (afObject{"user", wfID(id), "newbie"}) ||
		!reflect.DeepEqual(afData(t, revoked[0]), map[string]any{"role": "member"}) || revoked[0].Workspace.ID != ws.ID {
		t.Fatalf("permission_revoked: %+v", revoked)
	}

	// group.member_added / _removed name the group and the user.
	wfAddMember(t, e, design.ID, id)
	wfRemoveMember(t, e, design.ID, id)
	wantData := map[string]any{"user": map[string]any{"id": float64(id), "username": "newbie"}}
	for _, verb := range []string{"group.member_added", "group.member_removed"} {
		list := adminFeed(verb)
		if len(list) != 1 || *list[0].Object != (afObject{"group", wfID(design.ID), "design"}) || !reflect.DeepEqual(afData(t, list[0]), wantData) {
			t.Fatalf("%s: %+v", verb, list)
		}
	}

	// user.deleted, by the admin.
	e.do("DELETE", "/api/v3/users/"+wfID(id), e.AdminToken, nil).expect(t, http.StatusNoContent)
	deleted := adminFeed("user.deleted")
	if len(deleted) != 1 || *deleted[0].Object != (afObject{"user", wfID(id), "newbie"}) {
		t.Fatalf("user.deleted: %+v", deleted)
	}

	// The admin's whole feed, newest first, has exactly these verbs.
	_, all := afFeed(t, e, afUserFeed(e.Admin.ID)+"?page_size=1000", e.AdminToken)
	var verbs []string
	for _, a := range all {
		verbs = append(verbs, a.Verb)
	}
	wfEqual(t, "admin's verbs", verbs, []string{"user.deleted", "group.member_removed", "group.member_added",
		"workspace.permission_revoked", "workspace.permission_granted", "group.created", "workspace.permission_granted",
		"workspace.created", "user.updated", "user.created", "user.created"})
}

// ---------------------------------------------------------------- feeds

func TestActivityFeedFilters(t *testing.T) { eachStore(t, testActivityFeedFilters) }

func testActivityFeedFilters(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	clock := afSetClock(e, now.Add(-10*time.Hour))
	ws1, ws2 := wfNewWorkspace(t, e, "One"), wfNewWorkspace(t, e, "Two")
	alice := afUser(t, e, "alice")
	aliceTok := e.token(alice)
	wfPutGrant(t, e, e.AdminToken, ws1.ID, "users", alice.ID, "alice", "member")
	wfPutGrant(t, e, e.AdminToken, ws2.ID, "users", alice.ID, "alice", "member")

	post := func(hoursAgo int, verb string, ws *wfWorkspace) int64 {
		t.Helper()
		clock.set(now.Add(-time.Duration(hoursAgo) * time.Hour))
		body := map[string]any{"verb": verb}
		if ws != nil {
			body["workspace"] = ws.ID
		}
		return afPost(t, e, aliceTok, body).ID
	}
	a1 := post(6, "document.created", &ws1)
	a2 := post(5, "document.updated", &ws1)
	a3 := post(4, "comment.added", &ws2)
	a4 := post(3, "document.created", &ws2)
	a5 := post(2, "documents.archived", nil)
	a6 := post(1, "document", &ws1)
	a7 := post(0, "document.created.v2", &ws1)
	clock.set(now)

	at := func(hoursAgo float64) string {
		return url.QueryEscape(now.Add(-time.Duration(hoursAgo * float64(time.Hour))).Format(time.RFC3339Nano))
	}
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{a7, a6, a5, a4, a3, a2, a1}},
		{"workspace=" + wfID(ws1.ID), []int64{a7, a6, a2, a1}},
		{"workspace=" + wfID(ws2.ID), []int64{a4, a3}},
		{"workspace=999", []int64{}},
		{"verb=document.created", []int64{a4, a1}},
		{"verb=document", []int64{a6}},
		{"verb=document.*", []int64{a7, a4, a2, a1}},
		{"verb=document.created.*", []int64{a7}},
		{"verb=documents.*", []int64{a5}},
		{"verb=doc.*", []int64{}},
		{"verb=document.*&workspace=" + wfID(ws2.ID), []int64{a4}},
		{"since=" + at(3.5), []int64{a7, a6, a5, a4}},
		{"until=" + at(3.5), []int64{a3, a2, a1}},
		{"since=" + at(5.5) + "&until=" + at(1.5), []int64{a5, a4, a3, a2}},
		{"since=" + url.QueryEscape(now.Add(-150*time.Minute).In(time.FixedZone("X", 2*3600)).Format(time.RFC3339)), []int64{a7, a6, a5}},
		{"since=" + at(-1), []int64{}},
		{"before=" + wfID(a4), []int64{a3, a2, a1}},
		{"before=" + wfID(a1), []int64{}},
		{"before=" + wfID(a7+100), []int64{a7, a6, a5, a4, a3, a2, a1}},
		{"before=" + wfID(a6) + "&verb=document.*&since=" + at(5.5), []int64{a4, a2}},
	}
	for _, c := range cases {
		for _, tok := range []string{aliceTok, e.AdminToken} {
			p, list := afFeed(t, e, afUserFeed(alice.ID)+"?page_size=1000&"+c.query, tok)
			if got := afIDs(list); !slices.Equal(got, c.want) || p.Count != len(c.want) {
				t.Fatalf("?%s: ids %v (count %d), want %v", c.query, got, p.Count, c.want)
			}
			if n := afCount(t, e, afUserFeed(alice.ID)+"/count?"+c.query, tok); n != len(c.want) {
				t.Fatalf("count?%s = %d, want %d", c.query, n, len(c.want))
			}
		}
	}

	// The envelope: page links keep the filters.
	p, list := afFeed(t, e, afUserFeed(alice.ID)+"?verb=document.*&page_size=3", aliceTok)
	if p.Count != 4 || !slices.Equal(afIDs(list), []int64{a7, a4, a2}) || p.Next == nil || p.Previous != nil {
		t.Fatalf("page 1: %d %v", p.Count, afIDs(list))
	}
	next, err := url.Parse(*p.Next)
	if err != nil || !next.IsAbs() || next.Query().Get("verb") != "document.*" || next.Query().Get("page") != "2" || next.Query().Get("page_size") != "3" {
		t.Fatalf("next = %q", *p.Next)
	}
	p, list = afFeed(t, e, afUserFeed(alice.ID)+"?"+next.RawQuery, aliceTok)
	if !slices.Equal(afIDs(list), []int64{a1}) || p.Next != nil || p.Previous == nil {
		t.Fatalf("page 2: %v", afIDs(list))
	}
	e.do("GET", afUserFeed(alice.ID)+"?verb=document.*&page_size=3&page=3", aliceTok, nil).expect(t, http.StatusNotFound)

	// Bad filters are 400 naming the parameter, on the list and the count.
	for _, q := range []struct{ query, field string }{
		{"since=yesterday", "since"}, {"since=2026-13-01T00:00:00Z", "since"}, {"until=2026-01-01", "until"},
		{"until=", "until"}, {"verb=Document", "verb"}, {"verb=*", "verb"}, {"verb=document.*.*", "verb"},
		{"verb=", "verb"}, {"verb=document*", "verb"}, {"workspace=abc", "workspace"}, {"workspace=0", "workspace"},
		{"before=0", "before"}, {"before=x", "before"}, {"before=-5", "before"}, {"page_size=0", "page_size"},
	} {
		for _, path := range []string{afUserFeed(alice.ID), afUserFeed(alice.ID) + "/count"} {
			if strings.HasSuffix(path, "/count") && q.field == "page_size" {
				continue
			}
			r := e.do("GET", path+"?"+q.query, aliceTok, nil)
			wfExpectField(t, r, http.StatusBadRequest, q.field)
		}
	}
	// Absent users.
	e.do("GET", afUserFeed(999), aliceTok, nil).expect(t, http.StatusNotFound)
	e.do("GET", afUserFeed(999)+"/count", aliceTok, nil).expect(t, http.StatusNotFound)
	e.do("GET", "/api/v3/users/x/activities", aliceTok, nil).expect(t, http.StatusNotFound)
	// An absent user is 404 even when the filters or the page are bad too.
	e.do("GET", afUserFeed(999)+"?since=yesterday", aliceTok, nil).expect(t, http.StatusNotFound)
	e.do("GET", afUserFeed(999)+"/count?since=yesterday", aliceTok, nil).expect(t, http.StatusNotFound)
	e.do("GET", afUserFeed(999)+"?page=0", aliceTok, nil).expect(t, http.StatusNotFound)
	e.do("GET", afUserFeed(999)+"?page=5", aliceTok, nil).expect(t, http.StatusNotFound)
}

func TestActivityFeedBeforeWalk(t *testing.T) { eachStore(t, testActivityFeedBeforeWalk) }

func testActivityFeedBeforeWalk(t *testing.T) {
	e := newEnv(t)
	alice := afUser(t, e, "alice")
	aliceTok := e.token(alice)
	posted := map[int64]bool{}
	for i := 0; i < 120; i++ {
		posted[afPost(t, e, aliceTok, map[string]any{"verb": "step.done", "data": map[string]any{"i": i}}).ID] = true
	}

	seen := map[int64]int{}
	path := afUserFeed(alice.ID) + "?page_size=50"
	var sizes, counts []int
	prev := int64(1 << 62)
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("the walk does not end")
		}
		p, list := afFeed(t, e, path, aliceTok)
		sizes, counts = append(sizes, len(list)), append(counts, p.Count)
		for _, a := range list {
			if a.ID >= prev {
				t.Fatalf("id %d after %d: not newest first", a.ID, prev)
			}
			prev = a.ID
			seen[a.ID]++
		}
		if page == 0 {
			// New activities during the walk do not disturb it.
			for i := 0; i < 3; i++ {
				afPost(t, e, aliceTok, map[string]any{"verb": "step.late"})
			}
		}
		if len(list) == 0 {
			if p.Next != nil {
				t.Fatalf("empty page with next %q", *p.Next)
			}
			break
		}
		path = afUserFeed(alice.ID) + "?page_size=50&before=" + wfID(list[len(list)-1].ID)
	}
	if !slices.Equal(sizes, []int{50, 50, 20, 0}) || !slices.Equal(counts, []int{120, 70, 20, 0}) {
		t.Fatalf("page sizes %v, counts %v; want 50,50,20,0 and 120,70,20,0", sizes, counts)
	}
	if len(seen) != 120 {
		t.Fatalf("walk saw %d activities, want 120", len(seen))
	}
	for id, n := range seen {
		if n != 1 || !posted[id] {
			t.Fatalf("activity %d seen %d times (posted: %v)", id, n, posted[id])
		}
	}
	if n := afCount(t, e, afUserFeed(alice.ID)+"/count?verb=step.*", aliceTok); n != 123 {
		t.Fatalf("count = %d, want 123", n)
	}
}

func TestWorkspaceActivityFeed(t *testing.T) { eachStore(t, testWorkspaceActivityFeed) }

func testWorkspaceActivityFeed(t *testing.T) {
	e := newEnv(t)
	ws, other := wfNewWorkspace(t, e, "Team"), wfNewWorkspace(t, e, "Other")
	alice := afUser(t, e, "alice")
	bob := afUser(t, e, "bob")
	aliceTok, bobTok := e.token(alice), e.token(bob)
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", alice.ID, "alice", "viewer")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", bob.ID, "bob", "member")
	wfPutGrant(t, e, e.AdminToken, other.ID, "users", bob.ID, "bob", "member")

	b1 := afPost(t, e, bobTok, map[string]any{"verb": "document.created", "workspace": ws.ID})
	afPost(t, e, bobTok, map[string]any{"verb": "document.created", "workspace": other.ID})
	afPost(t, e, bobTok, map[string]any{"verb": "document.created"})
	a1 := afPost(t, e, aliceTok, map[string]any{"verb": "comment.added", "workspace": ws.ID})
	b2 := afPost(t, e, bobTok, map[string]any{"verb": "document.updated", "workspace": ws.ID})

	p, list := afFeed(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/activities", aliceTok)
	var verbs []string
	for _, a := range list {
		if a.Workspace == nil || a.Workspace.ID != ws.ID {
			t.Fatalf("activity %d of another workspace in the feed: %+v", a.ID, a.Workspace)
		}
		verbs = append(verbs, a.Verb)
	}
	wfEqual(t, "workspace feed", verbs, []string{"document.updated", "comment.added", "document.created",
		"workspace.permission_granted", "workspace.permission_granted", "workspace.created"})
	if p.Count != 6 || list[0].ID != b2.ID || list[1].ID != a1.ID || list[2].ID != b1.ID {
		t.Fatalf("workspace feed ids %v (count %d)", afIDs(list), p.Count)
	}

	// The same filters as the user feed.
	_, list = afFeed(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/activities?verb=document.*", aliceTok)
	if !slices.Equal(afIDs(list), []int64{b2.ID, b1.ID}) {
		t.Fatalf("verb filter: %v", afIDs(list))
	}
	_, list = afFeed(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/activities?before="+wfID(b2.ID)+"&page_size=1", aliceTok)
	if !slices.Equal(afIDs(list), []int64{a1.ID}) {
		t.Fatalf("before filter: %v", afIDs(list))
	}
	p, list = afFeed(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/activities?workspace="+wfID(other.ID), e.AdminToken)
	if p.Count != 0 || len(list) != 0 {
		t.Fatalf("workspace=<other> on a workspace feed: %v", afIDs(list))
	}
	// ... and its paging rules hold for that empty result too.
	wfExpectField(t, e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/activities?workspace="+wfID(other.ID)+"&page_size=0", e.AdminToken, nil),
		http.StatusBadRequest, "page_size")
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/activities?workspace="+wfID(other.ID)+"&page=2", e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/activities?page=2", e.AdminToken, nil).expect(t, http.StatusNotFound)
	wfExpectField(t, e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/activities?since=nope", aliceTok, nil), http.StatusBadRequest, "since")
	e.do("GET", wfWorkspaces+"/999/activities", e.AdminToken, nil).expect(t, http.StatusNotFound)

	// A deleted actor's activities stay, with a null username.
	e.do("DELETE", "/api/v3/users/"+wfID(bob.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	r := e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/activities?verb=document.*", aliceTok, nil).expect(t, http.StatusOK)
	var raw struct {
		Count   int              `json:"count"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Count != 2 || len(raw.Results) != 2 {
		t.Fatalf("after deleting bob: %s", r.Body)
	}
	for _, a := range raw.Results {
		actor := a["actor"].(map[string]any)
		if u, has := actor["username"]; !has || u != nil || actor["id"] != float64(bob.ID) {
			t.Fatalf("deleted actor shown as %v, want {id: %d, username: null}", actor, bob.ID)
		}
	}
	e.do("GET", afUserFeed(bob.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", afUserFeed(bob.ID)+"/count", e.AdminToken, nil).expect(t, http.StatusNotFound)
}

// ---------------------------------------------------------------- active workspaces

type afActiveWorkspace struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Slug          string   `json:"slug"`
	Role          string   `json:"role"`
	Via           []string `json:"via"`
	LastActiveAt  string   `json:"lastActiveAt"`
	ActivityCount int      `json:"activityCount"`
}

func TestActiveWorkspaces(t *testing.T) { eachStore(t, testActiveWorkspaces) }

func testActiveWorkspaces(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Second).Add(654321 * time.Microsecond)
	clock := afSetClock(e, now)
	ws1, ws2, ws3, ws4 := wfNewWorkspace(t, e, "One"), wfNewWorkspace(t, e, "Two"), wfNewWorkspace(t, e, "Three"), wfNewWorkspace(t, e, "Four")
	alice := afUser(t, e, "alice")
	aliceTok := afToken(t, e, alice, now.Add(72*time.Hour)) // outlives the clock moves below
	design := wfNewGroup(t, e, "design")
	wfAddMember(t, e, design.ID, alice.ID)
	wfPutGrant(t, e, e.AdminToken, ws1.ID, "users", alice.ID, "alice", "member")
	wfPutGrant(t, e, e.AdminToken, ws2.ID, "groups", design.ID, "design", "viewer")
	wfPutGrant(t, e, e.AdminToken, ws3.ID, "users", alice.ID, "alice", "viewer")
	wfPutGrant(t, e, e.AdminToken, ws3.ID, "groups", design.ID, "design", "admin")
	wfPutGrant(t, e, e.AdminToken, ws4.ID, "users", alice.ID, "alice", "member")

	path := "/api/v3/users/" + wfID(alice.ID) + "/activeworkspaces"
	if p := wfList(t, e, path, aliceTok); p.Count != 0 || len(p.Results) != 0 {
		t.Fatalf("active workspaces before any activity: %d", p.Count)
	}
	if prof := utGet(t, e, alice.ID); prof["lastActiveAt"] != nil {
		t.Fatalf("lastActiveAt before any activity = %v", prof["lastActiveAt"])
	}

	daysAgo := func(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }
	post := func(when time.Time, ws *wfWorkspace) {
		t.Helper()
		clock.set(when)
		body := map[string]any{"verb": "document.edited"}
		if ws != nil {
			body["workspace"] = ws.ID
		}
		afPost(t, e, aliceTok, body)
	}
	post(daysAgo(40), &ws1)
	post(daysAgo(10), &ws2)
	post(daysAgo(9), &ws2)
	post(daysAgo(1), &ws3)
	post(daysAgo(2), &ws4) // access is revoked below
	post(daysAgo(0.5), nil)
	post(daysAgo(20), &ws1) // older than the newest: lastActiveAt stays
	clock.set(now)
	e.do("DELETE", wfGrantPath(ws4.ID, "users", alice.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)

	get := func(query string) (wfPage, []afActiveWorkspace) {
		t.Helper()
		p := wfList(t, e, path+query, aliceTok)
		var list []afActiveWorkspace
		for _, raw := range p.Results {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			wfKeys(t, m, "id", "name", "slug", "role", "via", "lastActiveAt", "activityCount")
		}
		wfResults(t, p, &list)
		return p, list
	}
	w3 := afActiveWorkspace{ws3.ID, "Three", ws3.Slug, "admin", []string{"direct", "design"}, afFormat(daysAgo(1)), 1}
	w2 := afActiveWorkspace{ws2.ID, "Two", ws2.Slug, "viewer", []string{"design"}, afFormat(daysAgo(9)), 2}
	w1 := afActiveWorkspace{ws1.ID, "One", ws1.Slug, "member", []string{"direct"}, afFormat(daysAgo(20)), 1}
	w1all := w1
	w1all.ActivityCount = 2

	for _, c := range []struct {
		query string
		want  []afActiveWorkspace
	}{
		{"", []afActiveWorkspace{w3, w2, w1}},
		{"?days=30", []afActiveWorkspace{w3, w2, w1}},
		{"?days=5", []afActiveWorkspace{w3}},
		{"?days=15", []afActiveWorkspace{w3, w2}},
		{"?days=45", []afActiveWorkspace{w3, w2, w1all}},
		{"?days=3650", []afActiveWorkspace{w3, w2, w1all}},
	} {
		p, list := get(c.query)
		if p.Count != len(c.want) || !reflect.DeepEqual(list, c.want) {
			t.Fatalf("activeworkspaces%s = %+v (count %d), want %+v", c.query, list, p.Count, c.want)
		}
	}

	// Paginated, newest first.
	p, list := get("?days=45&page_size=2")
	if p.Count != 3 || len(list) != 2 || list[0].ID != ws3.ID || p.Next == nil || p.Previous != nil {
		t.Fatalf("page 1: %+v", list)
	}
	p, list = get("?days=45&page_size=2&page=2")
	if p.Count != 3 || len(list) != 1 || list[0].ID != ws1.ID || p.Next != nil || p.Previous == nil {
		t.Fatalf("page 2: %+v", list)
	}
	e.do("GET", path+"?days=45&page_size=2&page=3", aliceTok, nil).expect(t, http.StatusNotFound)

	// The window moves with the clock.
	clock.set(now.Add(36 * time.Hour))
	w2late := w2
	w2late.ActivityCount = 1
	if _, list := get("?days=11"); !reflect.DeepEqual(list, []afActiveWorkspace{w3, w2late}) {
		t.Fatalf("36 h later, days=11: %+v", list)
	}
	if _, list := get("?days=10"); !reflect.DeepEqual(list, []afActiveWorkspace{w3}) {
		t.Fatalf("36 h later, days=10: %+v", list)
	}
	clock.set(now)

	// Role and via follow grant and membership changes.
	wfRemoveMember(t, e, design.ID, alice.ID)
	w3.Role, w3.Via = "viewer", []string{"direct"}
	if _, list := get(""); !reflect.DeepEqual(list, []afActiveWorkspace{w3, w1}) {
		t.Fatalf("after leaving design: %+v", list)
	}

	// days must be 1..3650.
	for _, d := range []string{"0", "-1", "3651", "abc", "1.5", ""} {
		wfExpectField(t, e.do("GET", path+"?days="+d, aliceTok, nil), http.StatusBadRequest, "days")
	}
	e.do("GET", "/api/v3/users/999/activeworkspaces", aliceTok, nil).expect(t, http.StatusNotFound)

	// The profile's lastActiveAt is the newest activity's time.
	prof := utGet(t, e, alice.ID)
	if prof["lastActiveAt"] != afFormat(daysAgo(0.5)) {
		t.Fatalf("lastActiveAt = %v, want %s", prof["lastActiveAt"], afFormat(daysAgo(0.5)))
	}
	clock.set(now.Add(time.Minute))
	newest := afPost(t, e, aliceTok, map[string]any{"verb": "x.y"})
	r := e.do("GET", "/api/v3/users/me", aliceTok, nil).expect(t, http.StatusOK)
	if me := r.JSON(t); me["lastActiveAt"] != newest.Published || newest.Published != afFormat(now.Add(time.Minute)) {
		t.Fatalf("lastActiveAt = %v after posting at %s", me["lastActiveAt"], newest.Published)
	}
}
