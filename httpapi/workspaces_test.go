package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// Functional tests of workspaces, grants, effective members and groups.
// Helpers carry a "wf" prefix so that they cannot collide with those of the
// other test files of the package.

const (
	wfWorkspaces = "/api/v3/workspaces"
	wfGroups     = "/api/v3/groups"
)

func wfID(id int64) string { return strconv.FormatInt(id, 10) }

// wfPage is a decoded list envelope.
type wfPage struct {
	Count    int               `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}

// wfList GETs a list, checks the envelope's exact keys and decodes it.
func wfList(t *testing.T, e *env, path, token string) wfPage {
	t.Helper()
	r := e.do("GET", path, token, nil).expect(t, http.StatusOK)
	wfKeys(t, r.JSON(t), "count", "next", "previous", "results")
	var p wfPage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Results == nil {
		t.Fatalf("results is not an array: %s", r.Body)
	}
	return p
}

// wfResults decodes the results of a list into out (a pointer to a slice).
func wfResults(t *testing.T, p wfPage, out any) {
	t.Helper()
	data, _ := json.Marshal(p.Results)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
}

// wfKeys fails unless m has exactly the keys.
func wfKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
}

// wfFieldErrors returns the "errors" member of a problem body.
func wfFieldErrors(t *testing.T, r *resp) map[string][]string {
	t.Helper()
	var p struct {
		Errors map[string][]string `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.Body)
	}
	return p.Errors
}

// wfExpectField fails unless r is status and its errors name field.
func wfExpectField(t *testing.T, r *resp, status int, field string) {
	t.Helper()
	r.expect(t, status)
	if len(wfFieldErrors(t, r)[field]) == 0 {
		t.Fatalf("errors do not name %q: %s", field, r.Body)
	}
}

type wfWorkspace struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	CreatedAt string `json:"createdAt"`
}

func wfDecodeWorkspace(t *testing.T, r *resp) wfWorkspace {
	t.Helper()
	wfKeys(t, r.JSON(t), "id", "name", "slug", "createdAt")
	var w wfWorkspace
	if err := json.Unmarshal(r.Body, &w); err != nil {
		t.Fatal(err)
	}
	if !utTimeRE.MatchString(w.CreatedAt) {
		t.Fatalf("createdAt %q is not RFC 3339 UTC with microseconds", w.CreatedAt)
	}
	return w
}

// wfCreateWorkspace POSTs a workspace as the admin and checks the 201.
func wfCreateWorkspace(t *testing.T, e *env, body map[string]any) wfWorkspace {
	t.Helper()
	r := e.do("POST", wfWorkspaces, e.AdminToken, body).expect(t, http.StatusCreated)
	w := wfDecodeWorkspace(t, r)
	if loc := r.Header.Get("Location"); loc != wfWorkspaces+"/"+wfID(w.ID) {
		t.Fatalf("Location = %q, want %s/%d", loc, wfWorkspaces, w.ID)
	}
	return w
}

func wfNewWorkspace(t *testing.T, e *env, name string) wfWorkspace {
	t.Helper()
	return wfCreateWorkspace(t, e, map[string]any{"name": name})
}

type wfGroup struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"memberCount"`
}

func wfDecodeGroup(t *testing.T, r *resp) wfGroup {
	t.Helper()
	wfKeys(t, r.JSON(t), "id", "name", "memberCount")
	var g wfGroup
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func wfNewGroup(t *testing.T, e *env, name string) wfGroup {
	t.Helper()
	r := e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": name}).expect(t, http.StatusCreated)
	g := wfDecodeGroup(t, r)
	if loc := r.Header.Get("Location"); loc != wfGroups+"/"+wfID(g.ID) {
		t.Fatalf("Location = %q, want %s/%d", loc, wfGroups, g.ID)
	}
	if g.Name != name || g.MemberCount != 0 {
		t.Fatalf("new group = %+v", g)
	}
	return g
}

func wfGetGroup(t *testing.T, e *env, id int64) wfGroup {
	t.Helper()
	return wfDecodeGroup(t, e.do("GET", wfGroups+"/"+wfID(id), e.AdminToken, nil).expect(t, http.StatusOK))
}

func wfAddMember(t *testing.T, e *env, groupID, userID int64) {
	t.Helper()
	r := e.do("PUT", wfGroups+"/"+wfID(groupID)+"/members/"+wfID(userID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %q", r.Body)
	}
}

func wfRemoveMember(t *testing.T, e *env, groupID, userID int64) {
	t.Helper()
	e.do("DELETE", wfGroups+"/"+wfID(groupID)+"/members/"+wfID(userID), e.AdminToken, nil).expect(t, http.StatusNoContent)
}

type wfGrant struct {
	Subject struct {
		Type string `json:"type"`
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"subject"`
	Role string `json:"role"`
}

func (g wfGrant) String() string {
	return fmt.Sprintf("%s:%d:%s=%s", g.Subject.Type, g.Subject.ID, g.Subject.Name, g.Role)
}

func wfGrantPath(ws int64, kind string, id int64) string {
	return wfWorkspaces + "/" + wfID(ws) + "/permissions/" + kind + "/" + wfID(id)
}

// wfPutGrant PUTs a role as token and checks the 200 grant body.
func wfPutGrant(t *testing.T, e *env, token string, ws int64, kind string, id int64, name, role string) {
	t.Helper()
	r := e.do("PUT", wfGrantPath(ws, kind, id), token, map[string]any{"role": role}).expect(t, http.StatusOK)
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	subjectType := strings.TrimSuffix(kind, "s")
	want := map[string]any{"subject": map[string]any{"type": subjectType, "id": float64(id), "name": name}, "role": role}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("grant body = %s, want %v", r.Body, want)
	}
}

func wfGrants(t *testing.T, e *env, ws int64) []string {
	t.Helper()
	p := wfList(t, e, wfWorkspaces+"/"+wfID(ws)+"/permissions", e.AdminToken)
	var gs []wfGrant
	wfResults(t, p, &gs)
	for _, raw := range p.Results {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		wfKeys(t, m, "subject", "role")
		sub, _ := m["subject"].(map[string]any)
		wfKeys(t, sub, "type", "id", "name")
	}
	out := []string{}
	for _, g := range gs {
		out = append(out, g.String())
	}
	if p.Count != len(out) {
		t.Fatalf("count %d, %d results", p.Count, len(out))
	}
	return out
}

type wfMember struct {
	ID       int64    `json:"id"`
	Username string   `json:"username"`
	Role     string   `json:"role"`
	Via      []string `json:"via"`
}

func (m wfMember) String() string {
	return fmt.Sprintf("%s=%s%v", m.Username, m.Role, m.Via)
}

// wfMembers returns the effective members as "name=role[via...]", by id.
func wfMembers(t *testing.T, e *env, ws int64) []string {
	t.Helper()
	p := wfList(t, e, wfWorkspaces+"/"+wfID(ws)+"/members?page_size=1000", e.AdminToken)
	var ms []wfMember
	wfResults(t, p, &ms)
	out := []string{}
	for _, m := range ms {
		out = append(out, m.String())
	}
	if p.Count != len(out) {
		t.Fatalf("count %d, %d results", p.Count, len(out))
	}
	return out
}

func wfEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// wfCountVerb counts the activities of verb by actor, as the admin sees them.
func wfCountVerb(t *testing.T, e *env, actor int64, verb string) int {
	t.Helper()
	r := e.do("GET", "/api/v3/users/"+wfID(actor)+"/activities/count?verb="+verb, e.AdminToken, nil).expect(t, http.StatusOK)
	var c struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(r.Body, &c); err != nil || c.Count == nil {
		t.Fatalf("count body: %s", r.Body)
	}
	return *c.Count
}

// ---------------------------------------------------------------- workspaces

func TestWorkspaceCreateDerivesSlug(t *testing.T) { eachStore(t, testWorkspaceCreateDerivesSlug) }

func testWorkspaceCreateDerivesSlug(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, slug string }{
		{"Marketing Team", "marketing-team"},
		{"Marketing Team", "marketing-team-2"},
		{"marketing -- TEAM!", "marketing-team-3"},
		{"Crème Brûlée Café", "creme-brulee-cafe"},
		{"Ünïcödé 2026", "unicode-2026"},
		{"!!!", "workspace"},
		{"???", "workspace-2"},
	}
	for _, c := range cases {
		w := wfNewWorkspace(t, e, c.name)
		if w.Name != c.name || w.Slug != c.slug {
			t.Fatalf("POST %q gave name %q slug %q, want slug %q", c.name, w.Name, w.Slug, c.slug)
		}
		got := wfDecodeWorkspace(t, e.do("GET", wfWorkspaces+"/"+wfID(w.ID), e.AdminToken, nil).expect(t, http.StatusOK))
		if got != w {
			t.Fatalf("GET = %+v, POST answered %+v", got, w)
		}
	}

	// A derived slug skips suffixes taken explicitly.
	wfCreateWorkspace(t, e, map[string]any{"name": "Sales", "slug": "sales-2"})
	wfNewWorkspace(t, e, "Sales")
	if w := wfNewWorkspace(t, e, "Sales"); w.Slug != "sales-3" {
		t.Fatalf("third Sales slug = %q, want sales-3", w.Slug)
	}

	// Long names give slugs that stay valid, and their collisions too.
	long := strings.Repeat("abcdefghij ", 12)
	a, b := wfNewWorkspace(t, e, long), wfNewWorkspace(t, e, long)
	for _, w := range []wfWorkspace{a, b} {
		if !roster.ValidSlug(w.Slug) {
			t.Fatalf("derived slug %q is not a valid slug", w.Slug)
		}
	}
	if a.Slug == b.Slug || b.Slug != a.Slug+"-2" {
		t.Fatalf("long-name slugs %q and %q", a.Slug, b.Slug)
	}
}

func TestWorkspaceCreateValidation(t *testing.T) { eachStore(t, testWorkspaceCreateValidation) }

func testWorkspaceCreateValidation(t *testing.T) {
	e := newEnv(t)
	first := wfCreateWorkspace(t, e, map[string]any{"name": "Design", "slug": "design-team"})
	if first.Slug != "design-team" {
		t.Fatalf("explicit slug = %q", first.Slug)
	}

	wfExpectField(t, e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"slug": "x"}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": "   "}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": nil}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": 7}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": strings.Repeat("n", 151)}), http.StatusBadRequest, "name")
	for _, slug := range []string{"Design", "a b", "-a", "a-", "a--b", "a_b", "émile", "", strings.Repeat("s", 65)} {
		r := e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": "X", "slug": slug})
		wfExpectField(t, r, http.StatusBadRequest, "slug")
	}
	wfCreateWorkspace(t, e, map[string]any{"name": "Long", "slug": strings.Repeat("s", 64)})

	// A given slug that is taken is a conflict naming slug.
	r := e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": "Other", "slug": "design-team"})
	wfExpectField(t, r, http.StatusConflict, "slug")

	// Unknown fields are rejected by name; read-only ones are ignored.
	r = e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": "X", "owner": 1}).expect(t, http.StatusBadRequest)
	wfExpectField(t, r, http.StatusBadRequest, "owner")
	if !strings.Contains(string(r.Body), "owner") {
		t.Fatalf("400 does not name the unknown field: %s", r.Body)
	}
	w := wfCreateWorkspace(t, e, map[string]any{"name": "Echo", "id": 999, "createdAt": "2000-01-01T00:00:00.000000Z"})
	if w.ID == 999 || strings.HasPrefix(w.CreatedAt, "2000") {
		t.Fatalf("read-only fields were taken: %+v", w)
	}

	// Nothing of the failed attempts was stored.
	p := wfList(t, e, wfWorkspaces, e.AdminToken)
	if p.Count != 3 {
		t.Fatalf("workspaces after failures = %d, want 3", p.Count)
	}
	if n := wfCountVerb(t, e, e.Admin.ID, "workspace.created"); n != 3 {
		t.Fatalf("workspace.created activities = %d, want 3", n)
	}
}

func TestWorkspaceListGetPatchDelete(t *testing.T) { eachStore(t, testWorkspaceListGetPatchDelete) }

func testWorkspaceListGetPatchDelete(t *testing.T) {
	e := newEnv(t)
	var all []wfWorkspace
	for i := 1; i <= 5; i++ {
		all = append(all, wfNewWorkspace(t, e, "Space "+strconv.Itoa(i)))
	}

	p := wfList(t, e, wfWorkspaces+"?page_size=2", e.AdminToken)
	var page []wfWorkspace
	wfResults(t, p, &page)
	if p.Count != 5 || len(page) != 2 || page[0] != all[0] || page[1] != all[1] || p.Next == nil || p.Previous != nil {
		t.Fatalf("page 1 = %+v (count %d)", page, p.Count)
	}
	if !strings.HasSuffix(*p.Next, wfWorkspaces+"?page=2&page_size=2") {
		t.Fatalf("next = %q", *p.Next)
	}
	p = wfList(t, e, wfWorkspaces+"?page=3&page_size=2", e.AdminToken)
	wfResults(t, p, &page)
	if len(page) != 1 || page[0] != all[4] || p.Next != nil || p.Previous == nil {
		t.Fatalf("page 3 = %+v", page)
	}
	e.do("GET", wfWorkspaces+"?page=4&page_size=2", e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", wfWorkspaces+"?page_size=0", e.AdminToken, nil).expect(t, http.StatusBadRequest)

	// GET one, and absent or malformed ids.
	ws := all[2]
	path := wfWorkspaces + "/" + wfID(ws.ID)
	if got := wfDecodeWorkspace(t, e.do("GET", path, e.AdminToken, nil).expect(t, http.StatusOK)); got != ws {
		t.Fatalf("GET = %+v, want %+v", got, ws)
	}
	for _, bad := range []string{"999", "0", "-1", "abc", "1.5"} {
		e.do("GET", wfWorkspaces+"/"+bad, e.AdminToken, nil).expect(t, http.StatusNotFound)
	}

	// PATCH changes only what is sent.
	got := wfDecodeWorkspace(t, e.do("PATCH", path, e.AdminToken, map[string]any{"name": "Renamed"}).expect(t, http.StatusOK))
	if got.Name != "Renamed" || got.Slug != ws.Slug || got.CreatedAt != ws.CreatedAt || got.ID != ws.ID {
		t.Fatalf("PATCH name = %+v", got)
	}
	got = wfDecodeWorkspace(t, e.do("PATCH", path, e.AdminToken, map[string]any{"slug": "renamed"}).expect(t, http.StatusOK))
	if got.Name != "Renamed" || got.Slug != "renamed" {
		t.Fatalf("PATCH slug = %+v", got)
	}
	got = wfDecodeWorkspace(t, e.do("PATCH", path, e.AdminToken, map[string]any{"slug": "renamed", "name": "Renamed"}).expect(t, http.StatusOK))
	if got.Slug != "renamed" {
		t.Fatalf("PATCH to its own slug = %+v", got)
	}
	if again := wfDecodeWorkspace(t, e.do("GET", path, e.AdminToken, nil).expect(t, http.StatusOK)); again != got {
		t.Fatalf("GET after PATCH = %+v, want %+v", again, got)
	}
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"slug": all[0].Slug}), http.StatusConflict, "slug")
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"slug": "Not Valid"}), http.StatusBadRequest, "slug")
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"name": ""}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"color": "red"}), http.StatusBadRequest, "color")
	e.do("PATCH", path, e.AdminToken, "[]").expect(t, http.StatusBadRequest)
	e.do("PATCH", path, e.AdminToken, "{").expect(t, http.StatusBadRequest)
	e.do("PATCH", wfWorkspaces+"/999", e.AdminToken, map[string]any{"name": "x"}).expect(t, http.StatusNotFound)
	if again := wfDecodeWorkspace(t, e.do("GET", path, e.AdminToken, nil).expect(t, http.StatusOK)); again != got {
		t.Fatalf("failed PATCHes changed the workspace: %+v", again)
	}

	// A workspace admin who is not a global admin may change it.
	owner := e.createUser("owner", false, "")
	ownerTok := e.token(owner)
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", owner.ID, "owner", "admin")
	got = wfDecodeWorkspace(t, e.do("PATCH", path, ownerTok, map[string]any{"name": "Owned"}).expect(t, http.StatusOK))
	if got.Name != "Owned" {
		t.Fatalf("PATCH by workspace admin = %+v", got)
	}

	// DELETE, then it is gone everywhere.
	r := e.do("DELETE", path, e.AdminToken, nil).expect(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %q", r.Body)
	}
	e.do("GET", path, e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", path, ownerTok, nil).expect(t, http.StatusNotFound)
	e.do("PATCH", path, e.AdminToken, map[string]any{"name": "x"}).expect(t, http.StatusNotFound)
	e.do("GET", path+"/permissions", e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", path+"/members", e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", path, e.AdminToken, nil).expect(t, http.StatusNotFound)
	if p := wfList(t, e, wfWorkspaces, e.AdminToken); p.Count != 4 {
		t.Fatalf("count after delete = %d", p.Count)
	}
	if p := wfList(t, e, wfWorkspaces, ownerTok); p.Count != 0 {
		t.Fatalf("the owner still lists %d workspaces", p.Count)
	}
	// Its slug is free again.
	if w := wfCreateWorkspace(t, e, map[string]any{"name": "Again", "slug": "renamed"}); w.ID <= all[4].ID {
		t.Fatalf("a new workspace reused id %d", w.ID)
	}
}

// ---------------------------------------------------------------- grants

func TestWorkspacePermissions(t *testing.T) { eachStore(t, testWorkspacePermissions) }

func testWorkspacePermissions(t *testing.T) {
	e := newEnv(t)
	ws := wfNewWorkspace(t, e, "Docs")
	alice := e.createUser("alice", false, "")
	bob := e.createUser("bob", false, "")
	design := wfNewGroup(t, e, "design")

	wfEqual(t, "grants", wfGrants(t, e, ws.ID), []string{})

	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", alice.ID, "alice", "member")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", design.ID, "design", "viewer")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", bob.ID, "bob", "viewer")
	wfEqual(t, "grants", wfGrants(t, e, ws.ID), []string{
		"user:" + wfID(alice.ID) + ":alice=member", "user:" + wfID(bob.ID) + ":bob=viewer",
		"group:" + wfID(design.ID) + ":design=viewer"})

	// Re-PUT changes the role, never duplicates the grant.
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", alice.ID, "alice", "admin")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", design.ID, "design", "member")
	wfEqual(t, "grants", wfGrants(t, e, ws.ID), []string{
		"user:" + wfID(alice.ID) + ":alice=admin", "user:" + wfID(bob.ID) + ":bob=viewer",
		"group:" + wfID(design.ID) + ":design=member"})

	// The permissions list is paginated.
	p := wfList(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/permissions?page_size=2", e.AdminToken)
	if p.Count != 3 || len(p.Results) != 2 || p.Next == nil || p.Previous != nil {
		t.Fatalf("permissions page 1: count %d, %d results, next %v", p.Count, len(p.Results), p.Next)
	}
	p = wfList(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/permissions?page=2&page_size=2", e.AdminToken)
	var last []wfGrant
	wfResults(t, p, &last)
	if len(last) != 1 || last[0].Subject.Type != "group" || p.Next != nil || p.Previous == nil {
		t.Fatalf("permissions page 2: %s", last)
	}
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/permissions?page=3&page_size=2", e.AdminToken, nil).expect(t, http.StatusNotFound)

	// Bad bodies and absent subjects.
	userPath := wfGrantPath(ws.ID, "users", bob.ID)
	for _, body := range []any{
		map[string]any{"role": "owner"}, map[string]any{"role": "Admin"}, map[string]any{"role": ""},
		map[string]any{"role": 2}, map[string]any{"role": nil}, map[string]any{},
	} {
		wfExpectField(t, e.do("PUT", userPath, e.AdminToken, body), http.StatusBadRequest, "role")
	}
	wfExpectField(t, e.do("PUT", userPath, e.AdminToken, map[string]any{"role": "member", "expires": 1}), http.StatusBadRequest, "expires")
	e.do("PUT", userPath, e.AdminToken, `{"role": "member"`).expect(t, http.StatusBadRequest)
	e.do("PUT", wfGrantPath(ws.ID, "users", 999), e.AdminToken, map[string]any{"role": "member"}).expect(t, http.StatusNotFound)
	e.do("PUT", wfGrantPath(ws.ID, "groups", 999), e.AdminToken, map[string]any{"role": "member"}).expect(t, http.StatusNotFound)
	e.do("PUT", wfGrantPath(999, "users", bob.ID), e.AdminToken, map[string]any{"role": "member"}).expect(t, http.StatusNotFound)
	e.do("PUT", wfWorkspaces+"/"+wfID(ws.ID)+"/permissions/users/abc", e.AdminToken, map[string]any{"role": "member"}).expect(t, http.StatusNotFound)
	wfEqual(t, "grants after bad PUTs", wfGrants(t, e, ws.ID), []string{
		"user:" + wfID(alice.ID) + ":alice=admin", "user:" + wfID(bob.ID) + ":bob=viewer",
		"group:" + wfID(design.ID) + ":design=member"})

	// A workspace admin may grant too.
	aliceTok := e.token(alice)
	carol := e.createUser("carol", false, "")
	wfPutGrant(t, e, aliceTok, ws.ID, "users", carol.ID, "carol", "member")

	// DELETE: 204, then 404; access goes with it.
	bobTok := e.token(bob)
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID), bobTok, nil).expect(t, http.StatusOK)
	r := e.do("DELETE", userPath, e.AdminToken, nil).expect(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %q", r.Body)
	}
	e.do("DELETE", userPath, e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID), bobTok, nil).expect(t, http.StatusNotFound)
	groupPath := wfGrantPath(ws.ID, "groups", design.ID)
	e.do("DELETE", groupPath, e.AdminToken, nil).expect(t, http.StatusNoContent)
	e.do("DELETE", groupPath, e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", wfGrantPath(ws.ID, "users", 999), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", wfGrantPath(ws.ID, "groups", 999), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", wfGrantPath(999, "users", alice.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	wfEqual(t, "grants after deletes", wfGrants(t, e, ws.ID), []string{
		"user:" + wfID(alice.ID) + ":alice=admin", "user:" + wfID(carol.ID) + ":carol=member"})

	// Each change recorded one activity, by its actor.
	if n := wfCountVerb(t, e, e.Admin.ID, "workspace.permission_granted"); n != 5 {
		t.Fatalf("admin's permission_granted = %d, want 5", n)
	}
	if n := wfCountVerb(t, e, alice.ID, "workspace.permission_granted"); n != 1 {
		t.Fatalf("alice's permission_granted = %d, want 1", n)
	}
	if n := wfCountVerb(t, e, e.Admin.ID, "workspace.permission_revoked"); n != 2 {
		t.Fatalf("permission_revoked = %d, want 2", n)
	}

	// A deleted user's grants go with it.
	e.do("DELETE", "/api/v3/users/"+wfID(carol.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	wfEqual(t, "grants after the user's deletion", wfGrants(t, e, ws.ID), []string{"user:" + wfID(alice.ID) + ":alice=admin"})
}

// ---------------------------------------------------------------- members

func TestWorkspaceMembers(t *testing.T) { eachStore(t, testWorkspaceMembers) }

func testWorkspaceMembers(t *testing.T) {
	e := newEnv(t)
	ws := wfNewWorkspace(t, e, "Product")
	other := wfNewWorkspace(t, e, "Other")
	alice := e.createUser("alice", false, "")
	bob := e.createUser("bob", false, "")
	carol := e.createUser("carol", false, "")
	dave := e.createUser("dave", false, "")
	design := wfNewGroup(t, e, "design")
	ops := wfNewGroup(t, e, "ops")
	idle := wfNewGroup(t, e, "idle")

	wfEqual(t, "members of a new workspace", wfMembers(t, e, ws.ID), []string{})

	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", alice.ID, "alice", "member")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", carol.ID, "carol", "viewer")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", design.ID, "design", "member")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", idle.ID, "idle", "admin") // no members: adds nobody
	wfPutGrant(t, e, e.AdminToken, other.ID, "users", dave.ID, "dave", "admin")
	wfAddMember(t, e, design.ID, bob.ID)
	wfAddMember(t, e, design.ID, carol.ID)
	wfAddMember(t, e, ops.ID, dave.ID) // ops has no grant here

	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{
		"alice=member[direct]", "bob=member[design]", "carol=member[direct design]"})

	// A second group with a stronger role: the strongest wins, via lists all.
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", ops.ID, "ops", "admin")
	wfAddMember(t, e, ops.ID, carol.ID)
	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{
		"alice=member[direct]", "bob=member[design]", "carol=admin[direct design ops]", "dave=admin[ops]"})

	// The direct grant can be the strongest too.
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", ops.ID, "ops", "viewer")
	wfPutGrant(t, e, e.AdminToken, ws.ID, "users", carol.ID, "carol", "admin")
	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{
		"alice=member[direct]", "bob=member[design]", "carol=admin[direct design ops]", "dave=viewer[ops]"})

	// Membership and grant removals.
	wfRemoveMember(t, e, ops.ID, carol.ID)
	e.do("DELETE", wfGrantPath(ws.ID, "users", carol.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	wfPutGrant(t, e, e.AdminToken, ws.ID, "groups", design.ID, "design", "viewer")
	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{
		"alice=member[direct]", "bob=viewer[design]", "carol=viewer[design]", "dave=viewer[ops]"})

	// Effective roles decide access: carol (viewer via design) reads, bob
	// after leaving design does not.
	carolTok, bobTok := e.token(carol), e.token(bob)
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/members", carolTok, nil).expect(t, http.StatusOK)
	wfRemoveMember(t, e, design.ID, bob.ID)
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/members", bobTok, nil).expect(t, http.StatusNotFound)
	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{
		"alice=member[direct]", "carol=viewer[design]", "dave=viewer[ops]"})

	// A deleted group's grants and memberships go.
	e.do("DELETE", wfGroups+"/"+wfID(ops.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{"alice=member[direct]", "carol=viewer[design]"})
	wfEqual(t, "grants", wfGrants(t, e, ws.ID), []string{"user:" + wfID(alice.ID) + ":alice=member",
		"group:" + wfID(design.ID) + ":design=viewer", "group:" + wfID(idle.ID) + ":idle=admin"})

	// Renames show in via and in the grants.
	e.do("PATCH", wfGroups+"/"+wfID(design.ID), e.AdminToken, map[string]any{"name": "designers"}).expect(t, http.StatusOK)
	e.do("PATCH", "/api/v3/users/"+wfID(alice.ID), e.AdminToken, map[string]any{"username": "alicia"}).expect(t, http.StatusOK)
	wfEqual(t, "members", wfMembers(t, e, ws.ID), []string{"alicia=member[direct]", "carol=viewer[designers]"})
	wfEqual(t, "grants", wfGrants(t, e, ws.ID), []string{"user:" + wfID(alice.ID) + ":alicia=member",
		"group:" + wfID(design.ID) + ":designers=viewer", "group:" + wfID(idle.ID) + ":idle=admin"})

	// Members are paginated by user id; each result is a user summary plus
	// role and via.
	wfAddMember(t, e, design.ID, dave.ID)
	p := wfList(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/members?page_size=2", e.AdminToken)
	var ms []wfMember
	wfResults(t, p, &ms)
	if p.Count != 3 || len(ms) != 2 || ms[0].ID != alice.ID || ms[1].ID != carol.ID || p.Next == nil || p.Previous != nil {
		t.Fatalf("members page 1: count %d %v", p.Count, ms)
	}
	var first map[string]any
	if err := json.Unmarshal(p.Results[0], &first); err != nil {
		t.Fatal(err)
	}
	wfKeys(t, first, "id", "username", "email", "firstName", "lastName", "isActive", "role", "via")
	p = wfList(t, e, wfWorkspaces+"/"+wfID(ws.ID)+"/members?page=2&page_size=2", e.AdminToken)
	wfResults(t, p, &ms)
	if p.Count != 3 || len(ms) != 1 || ms[0].String() != "dave=viewer[designers]" || p.Next != nil || p.Previous == nil {
		t.Fatalf("members page 2: count %d %v", p.Count, ms)
	}
	e.do("GET", wfWorkspaces+"/"+wfID(ws.ID)+"/members?page=3&page_size=2", e.AdminToken, nil).expect(t, http.StatusNotFound)
}

// ---------------------------------------------------------------- groups

func TestGroupCRUD(t *testing.T) { eachStore(t, testGroupCRUD) }

func testGroupCRUD(t *testing.T) {
	e := newEnv(t)
	design := wfNewGroup(t, e, "design")
	ops := wfNewGroup(t, e, "Ops")

	wfExpectField(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": " "}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": 3}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": "x", "members": []int{}}), http.StatusBadRequest, "members")
	wfExpectField(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": "DESIGN"}), http.StatusConflict, "name")
	wfExpectField(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": "ops"}), http.StatusConflict, "name")
	// Read-only fields are ignored.
	echo := wfDecodeGroup(t, e.do("POST", wfGroups, e.AdminToken, map[string]any{"name": "echo", "id": 99, "memberCount": 5}).expect(t, http.StatusCreated))
	if echo.ID == 99 || echo.MemberCount != 0 {
		t.Fatalf("read-only fields were taken: %+v", echo)
	}

	p := wfList(t, e, wfGroups+"?page_size=2", e.AdminToken)
	var gs []wfGroup
	wfResults(t, p, &gs)
	if p.Count != 3 || len(gs) != 2 || gs[0] != design || gs[1] != ops || p.Next == nil {
		t.Fatalf("groups page 1: count %d %+v", p.Count, gs)
	}
	p = wfList(t, e, wfGroups+"?page=2&page_size=2", e.AdminToken)
	wfResults(t, p, &gs)
	if len(gs) != 1 || gs[0] != echo || p.Next != nil {
		t.Fatalf("groups page 2: %+v", gs)
	}
	if got := wfGetGroup(t, e, design.ID); got != design {
		t.Fatalf("GET = %+v", got)
	}
	// Any user reads groups.
	alice := e.createUser("alice", false, "")
	aliceTok := e.token(alice)
	if p := wfList(t, e, wfGroups, aliceTok); p.Count != 3 {
		t.Fatalf("a user lists %d groups", p.Count)
	}
	e.do("GET", wfGroups+"/"+wfID(design.ID), aliceTok, nil).expect(t, http.StatusOK)
	e.do("GET", wfGroups+"/999", e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", wfGroups+"/x", e.AdminToken, nil).expect(t, http.StatusNotFound)

	// PATCH renames; a case change of its own name is not a conflict.
	path := wfGroups + "/" + wfID(design.ID)
	got := wfDecodeGroup(t, e.do("PATCH", path, e.AdminToken, map[string]any{"name": "Design"}).expect(t, http.StatusOK))
	if got.Name != "Design" || got.ID != design.ID {
		t.Fatalf("PATCH = %+v", got)
	}
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"name": "OPS"}), http.StatusConflict, "name")
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"name": ""}), http.StatusBadRequest, "name")
	wfExpectField(t, e.do("PATCH", path, e.AdminToken, map[string]any{"name": "a", "color": "red"}), http.StatusBadRequest, "color")
	e.do("PATCH", wfGroups+"/999", e.AdminToken, map[string]any{"name": "zzz"}).expect(t, http.StatusNotFound)
	if got := wfGetGroup(t, e, design.ID); got.Name != "Design" {
		t.Fatalf("after failed PATCHes: %+v", got)
	}

	// DELETE: 204, then 404; the name is free again.
	e.do("DELETE", wfGroups+"/"+wfID(ops.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	e.do("GET", wfGroups+"/"+wfID(ops.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", wfGroups+"/"+wfID(ops.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", wfGroups+"/"+wfID(ops.ID)+"/members", e.AdminToken, nil).expect(t, http.StatusNotFound)
	if again := wfNewGroup(t, e, "ops"); again.ID <= echo.ID {
		t.Fatalf("a new group reused id %d", again.ID)
	}
}

func TestGroupMembership(t *testing.T) { eachStore(t, testGroupMembership) }

func testGroupMembership(t *testing.T) {
	e := newEnv(t)
	design := wfNewGroup(t, e, "design")
	ops := wfNewGroup(t, e, "ops")
	alice := e.createUser("alice", false, "")
	bob := e.createUser("bob", false, "")
	memberPath := func(g, u int64) string { return wfGroups + "/" + wfID(g) + "/members/" + wfID(u) }

	// PUT is idempotent: one membership, one activity.
	wfAddMember(t, e, design.ID, alice.ID)
	wfAddMember(t, e, design.ID, alice.ID)
	if g := wfGetGroup(t, e, design.ID); g.MemberCount != 1 {
		t.Fatalf("memberCount after two PUTs = %d, want 1", g.MemberCount)
	}
	if n := wfCountVerb(t, e, e.Admin.ID, "group.member_added"); n != 1 {
		t.Fatalf("group.member_added after two PUTs = %d, want 1", n)
	}
	wfAddMember(t, e, design.ID, bob.ID)
	wfAddMember(t, e, ops.ID, alice.ID)
	if g := wfGetGroup(t, e, design.ID); g.MemberCount != 2 {
		t.Fatalf("memberCount = %d, want 2", g.MemberCount)
	}

	// Unknown group or user.
	e.do("PUT", memberPath(999, alice.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("PUT", memberPath(design.ID, 999), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("PUT", wfGroups+"/"+wfID(design.ID)+"/members/0", e.AdminToken, nil).expect(t, http.StatusNotFound)

	// GET members: user summaries by id, paginated.
	p := wfList(t, e, wfGroups+"/"+wfID(design.ID)+"/members", e.AdminToken)
	var us []map[string]any
	wfResults(t, p, &us)
	if p.Count != 2 || len(us) != 2 || us[0]["id"] != float64(alice.ID) || us[1]["username"] != "bob" {
		t.Fatalf("group members: %d %v", p.Count, us)
	}
	wfKeys(t, us[0], "id", "username", "email", "firstName", "lastName", "isActive")
	p = wfList(t, e, wfGroups+"/"+wfID(design.ID)+"/members?page=2&page_size=1", e.AdminToken)
	wfResults(t, p, &us)
	if p.Count != 2 || len(us) != 1 || us[0]["username"] != "bob" || p.Next != nil || p.Previous == nil {
		t.Fatalf("group members page 2: %v", us)
	}
	e.do("GET", wfGroups+"/"+wfID(design.ID)+"/members?page=3&page_size=1", e.AdminToken, nil).expect(t, http.StatusNotFound)

	// The profile lists the user's groups.
	profileGroups := func(u *roster.User) []map[string]any {
		t.Helper()
		r := e.do("GET", "/api/v3/users/"+wfID(u.ID), e.AdminToken, nil).expect(t, http.StatusOK)
		var prof struct {
			Groups []map[string]any `json:"groups"`
		}
		if err := json.Unmarshal(r.Body, &prof); err != nil || prof.Groups == nil {
			t.Fatalf("profile groups: %s", r.Body)
		}
		return prof.Groups
	}
	want := []map[string]any{{"id": float64(design.ID), "name": "design"}, {"id": float64(ops.ID), "name": "ops"}}
	if got := profileGroups(alice); !reflect.DeepEqual(got, want) {
		t.Fatalf("alice's groups = %v, want %v", got, want)
	}

	// DELETE: 204, memberCount follows; a non-member is 404.
	wfRemoveMember(t, e, design.ID, alice.ID)
	if g := wfGetGroup(t, e, design.ID); g.MemberCount != 1 {
		t.Fatalf("memberCount after DELETE = %d, want 1", g.MemberCount)
	}
	e.do("DELETE", memberPath(design.ID, alice.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", memberPath(design.ID, 999), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("DELETE", memberPath(999, bob.ID), e.AdminToken, nil).expect(t, http.StatusNotFound)
	if g := wfGetGroup(t, e, design.ID); g.MemberCount != 1 {
		t.Fatalf("memberCount after failed DELETEs = %d, want 1", g.MemberCount)
	}
	if n := wfCountVerb(t, e, e.Admin.ID, "group.member_removed"); n != 1 {
		t.Fatalf("group.member_removed = %d, want 1", n)
	}
	want = []map[string]any{{"id": float64(ops.ID), "name": "ops"}}
	if got := profileGroups(alice); !reflect.DeepEqual(got, want) {
		t.Fatalf("alice's groups = %v, want %v", got, want)
	}

	// Deleting a member user or the group updates counts and profiles.
	e.do("DELETE", "/api/v3/users/"+wfID(bob.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	if g := wfGetGroup(t, e, design.ID); g.MemberCount != 0 {
		t.Fatalf("memberCount after the member's deletion = %d, want 0", g.MemberCount)
	}
	if p := wfList(t, e, wfGroups+"/"+wfID(design.ID)+"/members", e.AdminToken); p.Count != 0 || len(p.Results) != 0 {
		t.Fatalf("members after the member's deletion: %d", p.Count)
	}
	e.do("DELETE", wfGroups+"/"+wfID(ops.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	if got := profileGroups(alice); len(got) != 0 {
		t.Fatalf("alice's groups after the group's deletion = %v", got)
	}
}

func TestWorkspaceAndGroupWritesConcurrent(t *testing.T) {
	eachStore(t, testWorkspaceAndGroupWritesConcurrent)
}

func testWorkspaceAndGroupWritesConcurrent(t *testing.T) {
	e := newEnv(t)
	const n = 8
	alice := e.createUser("alice", false, "")
	design := wfNewGroup(t, e, "design")
	slugs := make([]string, n)
	statuses := make([]int, 2*n)
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			r := e.do("POST", wfWorkspaces, e.AdminToken, map[string]any{"name": "Same Name"})
			statuses[i] = r.Status
			var w wfWorkspace
			_ = json.Unmarshal(r.Body, &w)
			slugs[i] = w.Slug
		}()
		go func() {
			defer func() { done <- struct{}{} }()
			statuses[n+i] = e.do("PUT", wfGroups+"/"+wfID(design.ID)+"/members/"+wfID(alice.ID), e.AdminToken, nil).Status
		}()
	}
	for i := 0; i < 2*n; i++ {
		<-done
	}
	for i, st := range statuses {
		if want := map[bool]int{true: http.StatusCreated, false: http.StatusNoContent}[i < n]; st != want {
			t.Fatalf("request %d: status %d, want %d", i, st, want)
		}
	}
	want := []string{"same-name"}
	for i := 2; i <= n; i++ {
		want = append(want, "same-name-"+strconv.Itoa(i))
	}
	slices.Sort(slugs)
	slices.Sort(want)
	wfEqual(t, "concurrent slugs", slugs, want)
	if g := wfGetGroup(t, e, design.ID); g.MemberCount != 1 {
		t.Fatalf("memberCount after concurrent PUTs = %d", g.MemberCount)
	}
	if c := wfCountVerb(t, e, e.Admin.ID, "group.member_added"); c != 1 {
		t.Fatalf("group.member_added after concurrent PUTs = %d", c)
	}
}
