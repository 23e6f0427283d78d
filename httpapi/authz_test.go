package httpapi_test

// Authorization matrix (every route x every kind of caller) and visibility
// agreement (lists, counts, active workspaces and the stream show the same
// activities) against one world per test. Expected sets come from an
// independent model of the grants the test made, applied to the raw
// activity table (e.db.ActivitiesAfter has no visibility filter).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/httpapi"
)

// Principals: the columns of the matrix.
const (
	pAnon     = iota // no Authorization header
	pGarbage         // a token that never existed
	pRevoked         // a token revoked with DELETE /auth/token
	pInactive        // a user deactivated by an admin (had a direct grant on W)
	pDeleted         // a user deleted by an admin (had a direct grant on W)
	pNone            // a user without access to W (member of X)
	pGroup           // access to W through group G (G is member of W)
	pExGroup         // had access to W through G, then was removed from G
	pViewer          // direct viewer of W
	pMember          // direct member of W
	pWsAdmin         // direct admin of W
	pAdmin           // global admin
	azN
)

var azNames = [azN]string{"anonymous", "garbage-token", "revoked-token", "inactive-user", "deleted-user", "no-access",
	"via-group", "removed-from-group", "direct-viewer", "direct-member", "workspace-admin", "global-admin"}

// azAuthed is a row of an authenticated route: 401 for the five callers
// without a valid token, then the given statuses for
// none, group, ex-group, viewer, member, workspace admin, admin.
func azAuthed(none, group, exGroup, viewer, member, wsAdmin, admin int) [azN]int {
	return [azN]int{401, 401, 401, 401, 401, none, group, exGroup, viewer, member, wsAdmin, admin}
}

// azAll is a row of a public route: the same status for everyone.
func azAll(status int) [azN]int {
	var s [azN]int
	for i := range s {
		s[i] = status
	}
	return s
}

// azModel is the test's own record of who has access to what.
type azModel struct {
	direct     map[int64]map[int64]roster.Role // workspace -> user -> role
	groupGrant map[int64]map[int64]roster.Role // workspace -> group -> role
	members    map[int64]map[int64]bool        // group -> users
	groupName  map[int64]string
	workspaces []int64
	groups     []int64
	live       map[int64]bool // users not deleted
	admins     map[int64]bool
}

// access returns the effective role of user in ws and where it comes from.
func (m *azModel) access(user, ws int64) (roster.Role, []string) {
	role, via := roster.NoRole, []string{}
	if r := m.direct[ws][user]; r > 0 {
		role, via = r, append(via, "direct")
	}
	for g, r := range m.groupGrant[ws] {
		if m.members[g][user] {
			role = max(role, r)
			via = append(via, m.groupName[g])
		}
	}
	slices.Sort(via)
	return role, via
}

func (m *azModel) canSee(viewer int64, a *roster.Activity) bool {
	if m.admins[viewer] || a.ActorID == viewer {
		return true
	}
	if a.WorkspaceID == nil {
		return false
	}
	r, _ := m.access(viewer, *a.WorkspaceID)
	return r > 0
}

// azWorld is the shared setup of the tests.
type azWorld struct {
	e *env
	m *azModel

	users  [azN]*roster.User // nil for anonymous and garbage
	tokens [azN]string

	alice  *roster.User // the actor whose feeds are read
	target *roster.User // a user no principal is
	W, X   int64        // W: the workspace of the matrix; X: alice and no-access
	Y, C   int64        // Y: alice only; C ("common"): every non-admin principal reads it
	G      int64        // group granted member on W

	fresh   int
	secrets map[int64]string // of tokens made by fresh, by id
}

func (w *azWorld) api(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	r := w.env(t).do(method, path, w.e.AdminToken, body).expect(t, want)
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

// env returns the test env reporting to t (for subtests).
func (w *azWorld) env(t *testing.T) *env {
	c := *w.e
	c.t = t
	return &c
}

func azID(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func azPath(format string, ids ...int64) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return fmt.Sprintf(format, args...)
}

func (w *azWorld) newUser(t *testing.T, name string) *roster.User {
	u := w.env(t).createUser(name, false, "")
	w.m.live[u.ID] = true
	return u
}

func (w *azWorld) newWorkspace(t *testing.T, name string) int64 {
	id := azID(w.api(t, "POST", "/api/v3/workspaces", map[string]string{"name": name}, 201)["id"])
	w.m.workspaces = append(w.m.workspaces, id)
	return id
}

func (w *azWorld) grant(t *testing.T, ws int64, u *roster.User, role roster.Role) {
	w.api(t, "PUT", azPath("/api/v3/workspaces/%d/permissions/users/%d", ws, u.ID), map[string]string{"role": role.String()}, 200)
	if w.m.direct[ws] == nil {
		w.m.direct[ws] = map[int64]roster.Role{}
	}
	w.m.direct[ws][u.ID] = role
}

func (w *azWorld) grantGroup(t *testing.T, ws, g int64, role roster.Role) {
	w.api(t, "PUT", azPath("/api/v3/workspaces/%d/permissions/groups/%d", ws, g), map[string]string{"role": role.String()}, 200)
	if w.m.groupGrant[ws] == nil {
		w.m.groupGrant[ws] = map[int64]roster.Role{}
	}
	w.m.groupGrant[ws][g] = role
}

func (w *azWorld) newGroup(t *testing.T, name string) int64 {
	id := azID(w.api(t, "POST", "/api/v3/groups", map[string]string{"name": name}, 201)["id"])
	w.m.groups = append(w.m.groups, id)
	w.m.groupName[id] = name
	w.m.members[id] = map[int64]bool{}
	return id
}

func (w *azWorld) join(t *testing.T, g int64, u *roster.User) {
	w.api(t, "PUT", azPath("/api/v3/groups/%d/members/%d", g, u.ID), nil, 204)
	w.m.members[g][u.ID] = true
}

func (w *azWorld) leave(t *testing.T, g int64, u *roster.User) {
	w.api(t, "DELETE", azPath("/api/v3/groups/%d/members/%d", g, u.ID), nil, 204)
	delete(w.m.members[g], u.ID)
}

func (w *azWorld) deleteUser(t *testing.T, u *roster.User) {
	w.api(t, "DELETE", azPath("/api/v3/users/%d", u.ID), nil, 204)
	delete(w.m.live, u.ID)
	for _, grants := range w.m.direct {
		delete(grants, u.ID)
	}
	for _, ms := range w.m.members {
		delete(ms, u.ID)
	}
}

// post records an activity as the token's user; ws 0 means none.
func (w *azWorld) post(t *testing.T, token, verb string, ws int64) int64 {
	t.Helper()
	body := map[string]any{"verb": verb, "object": map[string]string{"type": "document", "id": "d-" + strconv.Itoa(w.fresh), "name": "Doc"}}
	w.fresh++
	if ws != 0 {
		body["workspace"] = ws
	}
	r := w.env(t).do("POST", "/api/v3/activities", token, body).expect(t, 201).JSON(t)
	return azID(r["id"])
}

// raw returns every stored activity, unfiltered, oldest first.
func (w *azWorld) raw(t *testing.T) []*roster.Activity {
	t.Helper()
	list, err := w.e.db.ActivitiesAfter(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// azSetup builds the world: users for every principal, workspaces W, X, Y,
// C, group G (member on W), activities in and outside W by several actors,
// then revokes, deactivates, deletes and removes from G.
func azSetup(t *testing.T) *azWorld {
	e := newEnv(t)
	w := &azWorld{e: e, m: &azModel{direct: map[int64]map[int64]roster.Role{}, groupGrant: map[int64]map[int64]roster.Role{},
		members: map[int64]map[int64]bool{}, groupName: map[int64]string{}, live: map[int64]bool{e.Admin.ID: true},
		admins: map[int64]bool{e.Admin.ID: true}}}
	w.alice = w.newUser(t, "alice")
	w.target = w.newUser(t, "target")
	names := map[int]string{pRevoked: "revoked1", pInactive: "inactive1", pDeleted: "deleted1", pNone: "outsider",
		pGroup: "grouped", pExGroup: "exgrouped", pViewer: "viewer1", pMember: "member1", pWsAdmin: "wsadmin1"}
	for p := pRevoked; p < pAdmin; p++ {
		w.users[p] = w.newUser(t, names[p])
	}
	w.users[pAdmin] = e.Admin
	for p := pRevoked; p < azN; p++ {
		w.tokens[p] = e.token(w.users[p])
	}
	w.tokens[pGarbage] = "garbage-not-a-token"

	w.W = w.newWorkspace(t, "Wspace")
	w.X = w.newWorkspace(t, "Xspace")
	w.Y = w.newWorkspace(t, "Yspace")
	w.C = w.newWorkspace(t, "Common")
	w.G = w.newGroup(t, "design")
	w.join(t, w.G, w.users[pGroup])
	w.join(t, w.G, w.users[pExGroup])

	w.grant(t, w.W, w.users[pViewer], roster.RoleViewer)
	w.grant(t, w.W, w.users[pMember], roster.RoleMember)
	w.grant(t, w.W, w.users[pWsAdmin], roster.RoleAdmin)
	w.grant(t, w.W, w.users[pInactive], roster.RoleMember)
	w.grant(t, w.W, w.users[pDeleted], roster.RoleMember)
	w.grant(t, w.W, w.users[pRevoked], roster.RoleMember)
	w.grant(t, w.W, w.alice, roster.RoleMember)
	w.grantGroup(t, w.W, w.G, roster.RoleMember)
	ops := w.newGroup(t, "ops") // alice reaches W both directly and through ops
	w.join(t, ops, w.alice)
	w.grantGroup(t, w.W, ops, roster.RoleViewer)
	w.grant(t, w.X, w.alice, roster.RoleMember)
	w.grant(t, w.X, w.users[pNone], roster.RoleMember)
	w.grant(t, w.Y, w.alice, roster.RoleAdmin)
	w.grant(t, w.C, w.alice, roster.RoleMember)
	for _, p := range []int{pNone, pGroup, pExGroup, pViewer, pMember, pWsAdmin} {
		w.grant(t, w.C, w.users[p], roster.RoleViewer)
	}

	alice := e.token(w.alice)
	w.post(t, alice, "document.created", w.W)
	w.post(t, alice, "document.created", w.X)
	w.post(t, w.tokens[pViewer], "comment.added", w.W)
	w.post(t, alice, "document.updated", w.Y)
	w.post(t, alice, "profile.viewed", 0)
	w.post(t, w.tokens[pNone], "document.created", w.X)
	w.post(t, w.tokens[pGroup], "document.viewed", w.W)
	w.post(t, w.tokens[pDeleted], "document.created", w.W)
	w.post(t, alice, "comment.added", w.W)
	w.post(t, w.tokens[pAdmin], "system.note", 0)
	w.post(t, alice, "document.shared", w.C)

	// The principals that lost their access, each by the route meant for it.
	w.env(t).do("DELETE", "/api/v3/auth/token", w.tokens[pRevoked], nil).expect(t, 204)
	w.api(t, "PATCH", azPath("/api/v3/users/%d", w.users[pInactive].ID), map[string]any{"isActive": false}, 200)
	azProblem(t, w.env(t).do("GET", "/api/v3/users/me", w.tokens[pInactive], nil), 401)
	w.tokens[pInactive] = e.token(w.users[pInactive]) // a token made after deactivation is refused too
	w.deleteUser(t, w.users[pDeleted])
	w.env(t).do("GET", azPath("/api/v3/workspaces/%d", w.W), w.tokens[pExGroup], nil).expect(t, 200) // had access via G
	w.leave(t, w.G, w.users[pExGroup])
	return w
}

// azCell is one (row, principal) of the matrix.
type azCell struct {
	w     *azWorld
	p     int
	name  string
	user  *roster.User // nil for anonymous and garbage
	token string
	ok    bool             // the expected status is a success
	ids   map[string]int64 // fresh resources made for this cell
}

func (c *azCell) me() int64 {
	if c.user == nil {
		return c.w.target.ID
	}
	return c.user.ID
}

// fresh makes (once per cell) a resource named by a path placeholder:
// Ux a user with a viewer grant on W; Gx a group holding target, granted
// member on W; Wx a workspace with the grants of W.
func (c *azCell) fresh(t *testing.T, key string) int64 {
	if id, ok := c.ids[key]; ok {
		return id
	}
	w := c.w
	w.fresh++
	n := strconv.Itoa(w.fresh)
	var id int64
	switch key {
	case "Ux":
		u := w.newUser(t, "fresh"+n)
		w.grant(t, w.W, u, roster.RoleViewer)
		id = u.ID
	case "Gx":
		id = w.newGroup(t, "fresh-group-"+n)
		w.join(t, id, w.target)
		w.grantGroup(t, w.W, id, roster.RoleMember)
	case "Tme", "Ttarget": // a personal token of the caller (target for callers without a user), or of target
		owner := c.me()
		if key == "Ttarget" || !w.m.live[owner] {
			owner = w.target.ID
		}
		secret, hash := roster.NewTokenSecret()
		tok := &roster.Token{UserID: owner, Hash: hash, Kind: roster.TokenPersonal, Name: "fresh" + n, Scopes: roster.EveryScope &^ roster.ScopesOf(roster.ScopeWebhooks, roster.ScopeSCIM),
			Prefix: roster.TokenPrefix(secret), ExpiresAt: time.Now().Add(time.Hour)}
		if err := w.e.db.IssueToken(context.Background(), owner, tok); err != nil {
			t.Fatal(err)
		}
		if w.secrets == nil {
			w.secrets = map[int64]string{}
		}
		id, w.secrets[tok.ID] = tok.ID, secret
	case "Hx":
		h := &roster.Webhook{URL: "https://example.com/hook-" + n, Enabled: true}
		if err := w.e.db.CreateWebhook(context.Background(), w.e.Admin.ID, h); err != nil {
			t.Fatal(err)
		}
		id = h.ID
	case "Wx":
		id = w.newWorkspace(t, "Fresh "+n)
		for _, p := range []int{pViewer, pMember, pWsAdmin} {
			w.grant(t, id, w.users[p], w.m.direct[w.W][w.users[p].ID])
		}
		w.grantGroup(t, id, w.G, roster.RoleMember)
	default:
		t.Fatalf("unknown placeholder %s", key)
	}
	c.ids[key] = id
	return id
}

func (c *azCell) expand(t *testing.T, path string) string {
	w := c.w
	fixed := map[string]int64{"W": w.W, "X": w.X, "G": w.G, "alice": w.alice.ID, "target": w.target.ID,
		"deleted": w.users[pDeleted].ID, "me": c.me()}
	for {
		i := strings.Index(path, "{")
		if i < 0 {
			return path
		}
		j := strings.Index(path[i:], "}") + i
		key := path[i+1 : j]
		id, ok := fixed[key]
		if !ok {
			id = c.fresh(t, key)
		}
		path = path[:i] + strconv.FormatInt(id, 10) + path[j+1:]
	}
}

// azRow is one route (and concrete path) with the expected status per
// principal; check, when set, runs whenever the status is as expected and
// asserts the body (for reads) or the side effect (for writes, also that a
// refused write changed nothing).
type azRow struct {
	route  string
	path   string
	want   [azN]int
	body   func(c *azCell) any
	check  func(t *testing.T, c *azCell, r *resp)
	stream bool // only status and headers are read
	fresh  bool // the request uses a new token of the principal (it is revoked)
}

func TestAuthorizationMatrix(t *testing.T) { eachStore(t, testAuthorizationMatrix) }

func testAuthorizationMatrix(t *testing.T) {
	w := azSetup(t)
	rows := w.matrix()

	// Every registered route needs a row, so that a new route must be added here.
	srv := httpapi.NewServer(httpapi.Config{Store: w.e.db})
	routes := srv.Routes()
	covered := map[string]bool{}
	for _, row := range rows {
		covered[row.route] = true
		if !slices.Contains(routes, row.route) {
			t.Errorf("matrix row for %q, which is not a registered route", row.route)
		}
	}
	for _, r := range routes {
		if !covered[r] {
			t.Errorf("route %q has no row in the authorization matrix", r)
		}
	}

	// Every status the matrix expects must be documented for its operation.
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if outsideAPI(row.route) {
			continue
		}
		method, path, _ := strings.Cut(row.route, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		for p, status := range row.want {
			if _, ok := op.Responses[strconv.Itoa(status)]; !ok {
				t.Errorf("%s answers %d to %s, which api/openapi.json does not document", row.route, status, azNames[p])
			}
		}
	}

	// Reads first, against the world as set up; then writes, which use
	// fresh resources where a success would disturb the next cells.
	for _, reads := range []bool{true, false} {
		for _, row := range rows {
			if strings.HasPrefix(row.route, "GET ") != reads {
				continue
			}
			for p := range azN {
				t.Run(row.route+"/"+azNames[p], func(t *testing.T) { w.run(t, row, p) })
			}
		}
	}
}

// azHTML checks that an answer is an HTML page.
func azHTML(t *testing.T, c *azCell, r *resp) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type = %q, want text/html", ct)
	}
}

func (w *azWorld) run(t *testing.T, row azRow, p int) {
	c := &azCell{w: w, p: p, name: azNames[p], user: w.users[p], token: w.tokens[p], ids: map[string]int64{}}
	want := row.want[p]
	c.ok = want < 300
	if row.fresh && p >= pNone {
		c.token = w.e.token(c.user)
	}
	method, _, _ := strings.Cut(row.route, " ")
	path := c.expand(t, row.path)
	if row.stream {
		status, h, body := w.streamHead(t, path, c.token)
		if status != want {
			t.Fatalf("%s as %s: status %d, want %d; body %s", path, c.name, status, want, body)
		}
		if status == 200 {
			if ct := h.Get("Content-Type"); ct != "text/event-stream" || h.Get("Cache-Control") != "no-cache" {
				t.Fatalf("stream headers: Content-Type %q, Cache-Control %q", ct, h.Get("Cache-Control"))
			}
			if body != "retry: 3000" {
				t.Fatalf("first stream line %q, want retry: 3000", body)
			}
			return
		}
		azProblem(t, &resp{Status: status, Header: h, Body: []byte(body)}, want)
		return
	}
	var body any
	if row.body != nil {
		body = row.body(c)
	}
	r := w.env(t).do(method, path, c.token, body)
	if r.Status != want {
		t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, c.name, r.Status, want, r.Body)
	}
	if want >= 400 {
		azProblem(t, r, want)
	}
	if row.check != nil {
		row.check(t, c, r)
	}
}

// azProblem checks a problem+json answer, and the Bearer challenge of a 401.
func azProblem(t *testing.T, r *resp, status int) {
	t.Helper()
	r.expect(t, status)
	if status == 401 {
		if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
			t.Fatalf("401 without a Bearer challenge: WWW-Authenticate %q", ch)
		}
	}
}

// streamHead opens a stream and returns its status, headers and first line
// (or the error body), then closes it.
func (w *azWorld) streamHead(t *testing.T, path, token string, headers ...string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", w.e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if res.StatusCode != 200 {
		var sb strings.Builder
		_, _ = br.WriteTo(&sb)
		return res.StatusCode, res.Header, sb.String()
	}
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line of %s: %v", path, err)
	}
	return res.StatusCode, res.Header, strings.TrimRight(line, "\r\n")
}

// Page helpers.

type azPageBody struct {
	Count   int              `json:"count"`
	Results []map[string]any `json:"results"`
}

func azPage(t *testing.T, r *resp) azPageBody {
	t.Helper()
	var p azPageBody
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Results == nil {
		t.Fatalf("not a page: %v: %s", err, r.Body)
	}
	return p
}

func azIDs(items []map[string]any) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = azID(it["id"])
	}
	return out
}

func azSorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// azExpectPage checks that a page holds exactly want (in that order) and
// that its count agrees.
func azExpectPage(t *testing.T, label string, r *resp, want []int64) {
	t.Helper()
	p := azPage(t, r)
	if got := azIDs(p.Results); !slices.Equal(got, want) {
		t.Fatalf("%s: ids %v, want %v", label, got, want)
	}
	if p.Count != len(want) {
		t.Fatalf("%s: count %d, want %d", label, p.Count, len(want))
	}
}

// visible lists, newest first, the activities the viewer may see, chosen by keep.
func (w *azWorld) visible(t *testing.T, viewer int64, keep func(a *roster.Activity) bool) []int64 {
	var out []int64
	for _, a := range w.raw(t) {
		if keep(a) && w.m.canSee(viewer, a) {
			out = append(out, a.ID)
		}
	}
	slices.Reverse(out)
	return out
}

// azActive is an expected entry of /activeworkspaces.
type azActive struct {
	id    int64
	role  roster.Role
	via   []string
	count int
	last  int64 // microseconds
}

// expectedActive computes /users/{actor}/activeworkspaces for viewer.
func (w *azWorld) expectedActive(t *testing.T, viewer, actor int64) []azActive {
	byWS := map[int64]*azActive{}
	for _, a := range w.raw(t) {
		if a.ActorID != actor || a.WorkspaceID == nil || !w.m.canSee(viewer, a) {
			continue
		}
		role, via := w.m.access(actor, *a.WorkspaceID)
		if role == roster.NoRole {
			continue
		}
		e := byWS[*a.WorkspaceID]
		if e == nil {
			e = &azActive{id: *a.WorkspaceID, role: role, via: via}
			byWS[e.id] = e
		}
		e.count++
		e.last = max(e.last, a.Published.UnixMicro())
	}
	var out []azActive
	for _, e := range byWS {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b azActive) int {
		if a.last != b.last {
			return int(b.last - a.last)
		}
		return int(b.id - a.id)
	})
	return out
}

func (w *azWorld) checkActive(t *testing.T, label string, r *resp, viewer, actor int64) {
	t.Helper()
	want := w.expectedActive(t, viewer, actor)
	p := azPage(t, r)
	if p.Count != len(want) || len(p.Results) != len(want) {
		t.Fatalf("%s: %d active workspaces (count %d), want %v: %s", label, len(p.Results), p.Count, want, r.Body)
	}
	for i, it := range p.Results {
		var via []string
		for _, v := range it["via"].([]any) {
			via = append(via, v.(string))
		}
		slices.Sort(via)
		e := want[i]
		if azID(it["id"]) != e.id || it["role"] != e.role.String() || !slices.Equal(via, e.via) || azID(it["activityCount"]) != int64(e.count) {
			t.Fatalf("%s: entry %d is %v, want %+v", label, i, it, e)
		}
	}
}

// The matrix. Columns, left to right:
//
//	none  group  ex-group  viewer  member  ws-admin  admin
//
// (anonymous, garbage, revoked, inactive and deleted are 401 on every
// authenticated route; public routes list all twelve alike).
func (w *azWorld) matrix() []azRow {
	const base = "/api/v3"
	readActivities := func(t *testing.T, c *azCell, r *resp) {
		if c.ok {
			want := w.visible(t, c.me(), func(a *roster.Activity) bool { return a.ActorID == w.alice.ID })
			azExpectPage(t, "alice's activities as "+c.name, r, want)
		}
	}
	return []azRow{
		// Public routes: no token needed, and a bad one does not matter.
		{route: "GET /healthz", path: "/healthz", want: azAll(200)},
		{route: "GET /readyz", path: "/readyz", want: azAll(200)},
		{route: "GET /metrics", path: "/metrics", want: azAll(200), check: func(t *testing.T, c *azCell, r *resp) {
			if !strings.Contains(string(r.Body), "roster_http_requests_total") {
				t.Fatalf("metrics body lacks roster_http_requests_total")
			}
		}},
		{route: "GET /api/v3/openapi.json", path: base + "/openapi.json", want: azAll(200), check: func(t *testing.T, c *azCell, r *resp) {
			if r.JSON(t)["openapi"] == nil {
				t.Fatalf("not an OpenAPI document")
			}
		}},
		// The docs page and the console's files are public too: the console
		// signs in through the API.
		{route: "GET /api/v3/docs", path: base + "/docs", want: azAll(200), check: azHTML},
		{route: "GET /admin/", path: "/admin/", want: azAll(200), check: azHTML},
		{route: "GET /{$}", path: "/", want: azAll(200), check: azHTML}, // redirected to the console
		// A body without password is 400 for everyone: the route does not
		// authenticate (and no argon2 work is done).
		{route: "POST /api/v3/auth/token", path: base + "/auth/token", want: azAll(400),
			body: func(c *azCell) any { return map[string]string{"username": "alice"} }},

		//                                                                           none grp  exg  view memb wadm admn
		{route: "DELETE /api/v3/auth/token", path: base + "/auth/token", want: azAuthed(204, 204, 204, 204, 204, 204, 204), fresh: true,
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					azProblem(t, w.env(t).do("GET", base+"/users/me", c.token, nil), 401)
					w.env(t).do("GET", base+"/users/me", w.tokens[c.p], nil).expect(t, 200) // only that token
				}
			}},

		// Single sign-on: the provider list and the start of a sign-in are
		// public (no provider "none" exists; a callback without state is 400).
		{route: "GET /api/v3/auth/providers", path: base + "/auth/providers", want: azAll(200)},
		{route: "GET /api/v3/auth/oidc/{name}/login", path: base + "/auth/oidc/none/login?redirect_uri=/admin/", want: azAll(404)},
		{route: "GET /api/v3/auth/oidc/{name}/callback", path: base + "/auth/oidc/none/callback", want: azAll(400)},
		//                                                                                        none grp  exg  view memb wadm admn
		{route: "POST /api/v3/auth/providers", path: base + "/auth/providers", want: azAuthed(403, 403, 403, 403, 403, 403, 400),
			body: func(c *azCell) any { return map[string]any{} }},
		{route: "GET /api/v3/auth/providers/{name}", path: base + "/auth/providers/none", want: azAuthed(403, 403, 403, 403, 403, 403, 404)},
		{route: "PATCH /api/v3/auth/providers/{name}", path: base + "/auth/providers/none", want: azAuthed(403, 403, 403, 403, 403, 403, 404),
			body: func(c *azCell) any { return map[string]any{"enabled": false} }},
		{route: "DELETE /api/v3/auth/providers/{name}", path: base + "/auth/providers/none", want: azAuthed(403, 403, 403, 403, 403, 403, 404)},
		{route: "GET /api/v3/users/{id}/identities", path: base + "/users/{target}/identities", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "DELETE /api/v3/users/{id}/identities/{provider}", path: base + "/users/{target}/identities/none",
			want: azAuthed(403, 403, 403, 403, 403, 403, 404)},

		// SCIM: only an admin's token holds the scim scope. Writes use
		// bodies or ids that change nothing (a 400 or 404 for the admin).
		//                                                                                        none grp  exg  view memb wadm admn
		{route: "GET /scim/v2/ServiceProviderConfig", path: "/scim/v2/ServiceProviderConfig", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "GET /scim/v2/ResourceTypes", path: "/scim/v2/ResourceTypes", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "GET /scim/v2/ResourceTypes/{id}", path: "/scim/v2/ResourceTypes/User", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "GET /scim/v2/Schemas", path: "/scim/v2/Schemas", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "GET /scim/v2/Schemas/{id}", path: "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "GET /scim/v2/Users", path: "/scim/v2/Users", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "POST /scim/v2/Users", path: "/scim/v2/Users", want: azAuthed(403, 403, 403, 403, 403, 403, 400),
			body: func(c *azCell) any {
				return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}}
			}},
		{route: "GET /scim/v2/Users/{id}", path: "/scim/v2/Users/{target}", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "PUT /scim/v2/Users/{id}", path: "/scim/v2/Users/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404),
			body: func(c *azCell) any {
				return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "nobody-here"}
			}},
		{route: "PATCH /scim/v2/Users/{id}", path: "/scim/v2/Users/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404),
			body: func(c *azCell) any {
				return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}}}
			}},
		{route: "DELETE /scim/v2/Users/{id}", path: "/scim/v2/Users/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404)},
		{route: "GET /scim/v2/Groups", path: "/scim/v2/Groups", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "POST /scim/v2/Groups", path: "/scim/v2/Groups", want: azAuthed(403, 403, 403, 403, 403, 403, 400),
			body: func(c *azCell) any {
				return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}}
			}},
		{route: "GET /scim/v2/Groups/{id}", path: "/scim/v2/Groups/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404)},
		{route: "PUT /scim/v2/Groups/{id}", path: "/scim/v2/Groups/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404),
			body: func(c *azCell) any {
				return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "nobody-here"}
			}},
		{route: "PATCH /scim/v2/Groups/{id}", path: "/scim/v2/Groups/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404),
			body: func(c *azCell) any {
				return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "x"}}}
			}},
		{route: "DELETE /scim/v2/Groups/{id}", path: "/scim/v2/Groups/999999999", want: azAuthed(403, 403, 403, 403, 403, 403, 404)},

		{route: "GET /api/v3/users", path: base + "/users", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					var want []int64
					for id := range w.m.live {
						want = append(want, id)
					}
					azExpectPage(t, "users", r, azSorted(want))
				}
			}},
		{route: "POST /api/v3/users", path: base + "/users", want: azAuthed(403, 403, 403, 403, 403, 403, 201),
			body: func(c *azCell) any {
				return map[string]string{"username": "new-" + c.name, "email": "new-" + c.name + "@example.com"}
			},
			check: func(t *testing.T, c *azCell, r *resp) {
				_, _, err := w.e.db.FindCredentials(context.Background(), "new-"+c.name)
				if c.ok != (err == nil) {
					t.Fatalf("user new-%s exists = %v after status %d", c.name, err == nil, r.Status)
				}
			}},
		{route: "GET /api/v3/users/me", path: base + "/users/me", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok && azID(r.JSON(t)["id"]) != c.me() {
					t.Fatalf("me is %s", r.Body)
				}
			}},
		{route: "GET /api/v3/users/search", path: base + "/users/search?q=grouped", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					azExpectPage(t, "search", r, []int64{w.users[pGroup].ID, w.users[pExGroup].ID})
				}
			}},
		{route: "GET /api/v3/users/{id}", path: base + "/users/{alice}", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok && azID(r.JSON(t)["id"]) != w.alice.ID {
					t.Fatalf("got %s", r.Body)
				}
			}},
		{route: "GET /api/v3/users/{id}", path: base + "/users/{deleted}", want: azAuthed(404, 404, 404, 404, 404, 404, 404)},
		{route: "PUT /api/v3/users/{id}", path: base + "/users/{me}", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			body: func(c *azCell) any {
				u := c.user
				if u == nil {
					u = w.target
				}
				return map[string]any{"username": u.Username, "email": u.Email, "firstName": "Put", "lastName": c.name, "isActive": true}
			},
			check: func(t *testing.T, c *azCell, r *resp) { w.checkNames(t, c, c.me(), "Put", c.name) }},
		{route: "PUT /api/v3/users/{id}", path: base + "/users/{Ux}", want: azAuthed(403, 403, 403, 403, 403, 403, 200),
			body: func(c *azCell) any {
				u, err := w.e.db.FindUserByID(context.Background(), c.ids["Ux"])
				if err != nil {
					return nil
				}
				return map[string]any{"username": u.Username, "email": u.Email, "firstName": "Put", "lastName": c.name, "isActive": true}
			},
			check: func(t *testing.T, c *azCell, r *resp) { w.checkNames(t, c, c.ids["Ux"], "Put", c.name) }},
		{route: "PATCH /api/v3/users/{id}", path: base + "/users/{me}", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			body:  func(c *azCell) any { return map[string]string{"firstName": "Patched", "lastName": c.name} },
			check: func(t *testing.T, c *azCell, r *resp) { w.checkNames(t, c, c.me(), "Patched", c.name) }},
		{route: "PATCH /api/v3/users/{id}", path: base + "/users/{Ux}", want: azAuthed(403, 403, 403, 403, 403, 403, 200),
			body:  func(c *azCell) any { return map[string]string{"firstName": "Patched", "lastName": c.name} },
			check: func(t *testing.T, c *azCell, r *resp) { w.checkNames(t, c, c.ids["Ux"], "Patched", c.name) }},
		{route: "DELETE /api/v3/users/{id}", path: base + "/users/{Ux}", want: azAuthed(403, 403, 403, 403, 403, 403, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				_, err := w.e.db.FindUserByID(context.Background(), c.ids["Ux"])
				if c.ok != (roster.ErrorCode(err) == roster.ENOTFOUND) {
					t.Fatalf("after %d the user lookup gave %v", r.Status, err)
				}
			}},
		{route: "GET /api/v3/users/{id}/activeworkspaces", path: base + "/users/{alice}/activeworkspaces?page_size=1000",
			want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					w.checkActive(t, "active workspaces as "+c.name, r, c.me(), w.alice.ID)
				}
			}},
		{route: "GET /api/v3/users/{id}/activeworkspaces", path: base + "/users/{deleted}/activeworkspaces",
			want: azAuthed(404, 404, 404, 404, 404, 404, 404)},
		{route: "GET /api/v3/users/{id}/activities", path: base + "/users/{alice}/activities?page_size=1000",
			want: azAuthed(200, 200, 200, 200, 200, 200, 200), check: readActivities},
		{route: "GET /api/v3/users/{id}/activities", path: base + "/users/{deleted}/activities",
			want: azAuthed(404, 404, 404, 404, 404, 404, 404)},
		{route: "GET /api/v3/users/{id}/activities/count", path: base + "/users/{alice}/activities/count",
			want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					want := w.visible(t, c.me(), func(a *roster.Activity) bool { return a.ActorID == w.alice.ID })
					if n := azID(r.JSON(t)["count"]); n != int64(len(want)) {
						t.Fatalf("count %s, want %d", r.Body, len(want))
					}
				}
			}},
		{route: "GET /api/v3/users/{id}/activities/count", path: base + "/users/{deleted}/activities/count",
			want: azAuthed(404, 404, 404, 404, 404, 404, 404)},
		{route: "GET /api/v3/users/{id}/stream", path: base + "/users/{alice}/stream",
			want: azAuthed(200, 200, 200, 200, 200, 200, 200), stream: true},
		{route: "GET /api/v3/users/{id}/stream", path: base + "/users/{deleted}/stream",
			want: azAuthed(404, 404, 404, 404, 404, 404, 404), stream: true},

		{route: "GET /api/v3/workspaces", path: base + "/workspaces", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					var want []int64
					for _, ws := range w.m.workspaces {
						if role, _ := w.m.access(c.me(), ws); role > 0 || w.m.admins[c.me()] {
							want = append(want, ws)
						}
					}
					azExpectPage(t, "workspaces of "+c.name, r, want)
				}
			}},
		{route: "POST /api/v3/workspaces", path: base + "/workspaces", want: azAuthed(403, 403, 403, 403, 403, 403, 201),
			body: func(c *azCell) any { return map[string]string{"name": "Made by " + c.name} },
			check: func(t *testing.T, c *azCell, r *resp) {
				all, _, err := w.e.db.FindWorkspaces(context.Background(), w.e.Admin, roster.Page{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				found := slices.ContainsFunc(all, func(ws *roster.Workspace) bool { return ws.Name == "Made by "+c.name })
				if found != c.ok {
					t.Fatalf("workspace made by %s exists = %v after %d", c.name, found, r.Status)
				}
			}},
		//                                                                                          none grp  exg  view memb wadm admn
		{route: "GET /api/v3/workspaces/{id}", path: base + "/workspaces/{W}", want: azAuthed(404, 200, 404, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok && azID(r.JSON(t)["id"]) != w.W {
					t.Fatalf("got %s", r.Body)
				}
			}},
		{route: "GET /api/v3/workspaces/{id}", path: base + "/workspaces/{X}", want: azAuthed(200, 404, 404, 404, 404, 404, 200)},
		{route: "PATCH /api/v3/workspaces/{id}", path: base + "/workspaces/{W}", want: azAuthed(404, 403, 404, 403, 403, 200, 200),
			body: func(c *azCell) any { return map[string]string{"name": "W by " + c.name} },
			check: func(t *testing.T, c *azCell, r *resp) {
				ws, err := w.e.db.FindWorkspaceByID(context.Background(), w.W)
				if err != nil {
					t.Fatal(err)
				}
				if (ws.Name == "W by "+c.name) != c.ok {
					t.Fatalf("W is named %q after %d", ws.Name, r.Status)
				}
			}},
		{route: "DELETE /api/v3/workspaces/{id}", path: base + "/workspaces/{Wx}", want: azAuthed(404, 403, 404, 403, 403, 204, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				_, err := w.e.db.FindWorkspaceByID(context.Background(), c.ids["Wx"])
				if c.ok != (roster.ErrorCode(err) == roster.ENOTFOUND) {
					t.Fatalf("after %d the workspace lookup gave %v", r.Status, err)
				}
			}},
		{route: "GET /api/v3/workspaces/{id}/permissions", path: base + "/workspaces/{W}/permissions?page_size=1000",
			want: azAuthed(404, 200, 404, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if !c.ok {
					return
				}
				var want, got []string
				for u, role := range w.m.direct[w.W] {
					want = append(want, fmt.Sprintf("user:%d:%s", u, role))
				}
				for g, role := range w.m.groupGrant[w.W] {
					want = append(want, fmt.Sprintf("group:%d:%s", g, role))
				}
				p := azPage(t, r)
				for _, it := range p.Results {
					s := it["subject"].(map[string]any)
					got = append(got, fmt.Sprintf("%s:%d:%s", s["type"], azID(s["id"]), it["role"]))
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) || p.Count != len(want) {
					t.Fatalf("grants %v (count %d), want %v", got, p.Count, want)
				}
			}},
		{route: "PUT /api/v3/workspaces/{id}/permissions/users/{userId}", path: base + "/workspaces/{W}/permissions/users/{Ux}",
			want: azAuthed(404, 403, 404, 403, 403, 200, 200), body: func(c *azCell) any { return map[string]string{"role": "member"} },
			check: func(t *testing.T, c *azCell, r *resp) {
				w.checkRole(t, c, c.ids["Ux"], roster.RoleMember, roster.RoleViewer)
			}},
		{route: "DELETE /api/v3/workspaces/{id}/permissions/users/{userId}", path: base + "/workspaces/{W}/permissions/users/{Ux}",
			want: azAuthed(404, 403, 404, 403, 403, 204, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				w.checkRole(t, c, c.ids["Ux"], roster.NoRole, roster.RoleViewer)
			}},
		{route: "PUT /api/v3/workspaces/{id}/permissions/groups/{groupId}", path: base + "/workspaces/{W}/permissions/groups/{Gx}",
			want: azAuthed(404, 403, 404, 403, 403, 200, 200), body: func(c *azCell) any { return map[string]string{"role": "admin"} },
			check: func(t *testing.T, c *azCell, r *resp) {
				w.checkGroupGrant(t, c, c.ids["Gx"], roster.RoleAdmin, roster.RoleMember)
			}},
		{route: "DELETE /api/v3/workspaces/{id}/permissions/groups/{groupId}", path: base + "/workspaces/{W}/permissions/groups/{Gx}",
			want: azAuthed(404, 403, 404, 403, 403, 204, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				w.checkGroupGrant(t, c, c.ids["Gx"], roster.NoRole, roster.RoleMember)
			}},
		{route: "GET /api/v3/workspaces/{id}/members", path: base + "/workspaces/{W}/members?page_size=1000",
			want: azAuthed(404, 200, 404, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if !c.ok {
					return
				}
				var want []int64
				for u := range w.m.live {
					if role, _ := w.m.access(u, w.W); role > 0 {
						want = append(want, u)
					}
				}
				azExpectPage(t, "members of W", r, azSorted(want))
			}},
		{route: "GET /api/v3/workspaces/{id}/activities", path: base + "/workspaces/{W}/activities?page_size=1000",
			want: azAuthed(404, 200, 404, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					want := w.visible(t, c.me(), func(a *roster.Activity) bool { return a.WorkspaceID != nil && *a.WorkspaceID == w.W })
					azExpectPage(t, "W's activities as "+c.name, r, want)
				}
			}},
		{route: "GET /api/v3/workspaces/{id}/activities", path: base + "/workspaces/{X}/activities?page_size=1000",
			want: azAuthed(200, 404, 404, 404, 404, 404, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					want := w.visible(t, c.me(), func(a *roster.Activity) bool { return a.WorkspaceID != nil && *a.WorkspaceID == w.X })
					azExpectPage(t, "X's activities as "+c.name, r, want)
				}
			}},
		{route: "GET /api/v3/activities", path: base + "/activities?page_size=1000",
			want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					want := w.visible(t, c.me(), func(a *roster.Activity) bool { return true })
					azExpectPage(t, "the site's activities as "+c.name, r, want)
				}
			}},

		{route: "GET /api/v3/groups", path: base + "/groups", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					azExpectPage(t, "groups", r, azSorted(w.m.groups))
				}
			}},
		{route: "POST /api/v3/groups", path: base + "/groups", want: azAuthed(403, 403, 403, 403, 403, 403, 201),
			body: func(c *azCell) any { return map[string]string{"name": "group-of-" + c.name} },
			check: func(t *testing.T, c *azCell, r *resp) {
				all, _, err := w.e.db.FindGroups(context.Background(), roster.Page{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				found := slices.ContainsFunc(all, func(g *roster.Group) bool { return g.Name == "group-of-"+c.name })
				if found != c.ok {
					t.Fatalf("group-of-%s exists = %v after %d", c.name, found, r.Status)
				}
			}},
		{route: "GET /api/v3/groups/{id}", path: base + "/groups/{G}", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if b := r.JSON(t); c.ok && (azID(b["id"]) != w.G || azID(b["memberCount"]) != 1) {
					t.Fatalf("group G is %s, want id %d with 1 member", r.Body, w.G)
				}
			}},
		{route: "PATCH /api/v3/groups/{id}", path: base + "/groups/{Gx}", want: azAuthed(403, 403, 403, 403, 403, 403, 200),
			body: func(c *azCell) any { return map[string]string{"name": "renamed-by-" + c.name} },
			check: func(t *testing.T, c *azCell, r *resp) {
				g, err := w.e.db.FindGroupByID(context.Background(), c.ids["Gx"])
				if err != nil {
					t.Fatal(err)
				}
				if (g.Name == "renamed-by-"+c.name) != c.ok {
					t.Fatalf("group named %q after %d", g.Name, r.Status)
				}
			}},
		{route: "DELETE /api/v3/groups/{id}", path: base + "/groups/{Gx}", want: azAuthed(403, 403, 403, 403, 403, 403, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				_, err := w.e.db.FindGroupByID(context.Background(), c.ids["Gx"])
				if c.ok != (roster.ErrorCode(err) == roster.ENOTFOUND) {
					t.Fatalf("after %d the group lookup gave %v", r.Status, err)
				}
				if c.ok { // its grant went with it
					w.checkGroupGrant(t, c, c.ids["Gx"], roster.NoRole, roster.NoRole)
				}
			}},
		{route: "GET /api/v3/groups/{id}/members", path: base + "/groups/{G}/members", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					azExpectPage(t, "members of G", r, []int64{w.users[pGroup].ID})
				}
			}},
		{route: "PUT /api/v3/groups/{id}/members/{userId}", path: base + "/groups/{Gx}/members/{Ux}",
			want:  azAuthed(403, 403, 403, 403, 403, 403, 204),
			check: func(t *testing.T, c *azCell, r *resp) { w.checkMember(t, c, c.ids["Gx"], c.ids["Ux"], c.ok) }},
		{route: "DELETE /api/v3/groups/{id}/members/{userId}", path: base + "/groups/{Gx}/members/{target}",
			want:  azAuthed(403, 403, 403, 403, 403, 403, 204),
			check: func(t *testing.T, c *azCell, r *resp) { w.checkMember(t, c, c.ids["Gx"], w.target.ID, !c.ok) }},

		{route: "GET /api/v3/users/changes", path: base + "/users/changes", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if b := r.JSON(t); c.ok && (b["cursor"] == "" || b["changes"] == nil) {
					t.Fatalf("delta feed: %s", r.Body)
				}
			}},
		{route: "GET /api/v3/webhooks", path: base + "/webhooks", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "POST /api/v3/webhooks", path: base + "/webhooks", want: azAuthed(403, 403, 403, 403, 403, 403, 201),
			body: func(c *azCell) any { return map[string]string{"url": "https://example.com/by-" + c.name} },
			check: func(t *testing.T, c *azCell, r *resp) {
				all, _, err := w.e.db.FindWebhooks(context.Background(), roster.Page{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				found := slices.ContainsFunc(all, func(h *roster.Webhook) bool { return h.URL == "https://example.com/by-"+c.name })
				if found != c.ok {
					t.Fatalf("webhook by %s exists = %v after %d", c.name, found, r.Status)
				}
			}},
		{route: "GET /api/v3/webhooks/{id}", path: base + "/webhooks/{Hx}", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "PATCH /api/v3/webhooks/{id}", path: base + "/webhooks/{Hx}", want: azAuthed(403, 403, 403, 403, 403, 403, 200),
			body: func(c *azCell) any { return map[string]string{"description": "by " + c.name} },
			check: func(t *testing.T, c *azCell, r *resp) {
				h, err := w.e.db.FindWebhookByID(context.Background(), c.ids["Hx"])
				if err != nil {
					t.Fatal(err)
				}
				if (h.Description == "by "+c.name) != c.ok {
					t.Fatalf("description %q after %d", h.Description, r.Status)
				}
			}},
		{route: "DELETE /api/v3/webhooks/{id}", path: base + "/webhooks/{Hx}", want: azAuthed(403, 403, 403, 403, 403, 403, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				_, err := w.e.db.FindWebhookByID(context.Background(), c.ids["Hx"])
				if c.ok != (roster.ErrorCode(err) == roster.ENOTFOUND) {
					t.Fatalf("after %d the webhook lookup gave %v", r.Status, err)
				}
			}},
		{route: "POST /api/v3/webhooks/{id}/rotate-secret", path: base + "/webhooks/{Hx}/rotate-secret", want: azAuthed(403, 403, 403, 403, 403, 403, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				h, err := w.e.db.FindWebhookByID(context.Background(), c.ids["Hx"])
				if err != nil {
					t.Fatal(err)
				}
				if (h.PrevSecret != "") != c.ok {
					t.Fatalf("rotated = %v after %d", h.PrevSecret != "", r.Status)
				}
			}},
		// This env runs no Deliverer: an admin's test send is a 503.
		{route: "POST /api/v3/webhooks/{id}/test", path: base + "/webhooks/{Hx}/test", want: azAuthed(403, 403, 403, 403, 403, 403, 503)},
		{route: "GET /api/v3/webhooks/{id}/deliveries", path: base + "/webhooks/{Hx}/deliveries", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},

		//                                                                                    none grp  exg  view memb wadm admn
		// Tokens: anyone manages their own; an admin anyone's.
		{route: "GET /api/v3/tokens", path: base + "/tokens", want: azAuthed(200, 200, 200, 200, 200, 200, 200),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok && !slices.ContainsFunc(azPage(t, r).Results, func(it map[string]any) bool { return it["prefix"] == roster.TokenPrefix(c.token) }) {
					t.Fatalf("the caller's own token is not listed: %s", r.Body)
				}
			}},
		{route: "POST /api/v3/tokens", path: base + "/tokens", want: azAuthed(201, 201, 201, 201, 201, 201, 201),
			body: func(c *azCell) any {
				return map[string]any{"name": "probe-" + c.name, "scopes": []string{"users:read"}}
			},
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					secret, _ := r.JSON(t)["token"].(string)
					me := w.env(t).do("GET", base+"/users/me", secret, nil).expect(t, 200).JSON(t)
					if azID(me["id"]) != c.me() {
						t.Fatalf("the new token belongs to %v", me["id"])
					}
				}
			}},
		{route: "DELETE /api/v3/tokens/{id}", path: base + "/tokens/{Tme}", want: azAuthed(204, 204, 204, 204, 204, 204, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				if c.ok {
					azProblem(t, w.env(t).do("GET", base+"/users/me", w.secrets[c.ids["Tme"]], nil), 401)
					w.env(t).do("GET", base+"/users/me", c.token, nil).expect(t, 200) // only that token
				}
			}},
		{route: "DELETE /api/v3/tokens/{id}", path: base + "/tokens/{Ttarget}", want: azAuthed(404, 404, 404, 404, 404, 404, 204),
			check: func(t *testing.T, c *azCell, r *resp) {
				status := w.env(t).do("GET", base+"/users/me", w.secrets[c.ids["Ttarget"]], nil).Status
				if want := map[bool]int{true: 401, false: 200}[c.ok]; status != want {
					t.Fatalf("target's token answers %d after the revocation answered %d", status, r.Status)
				}
			}},
		{route: "GET /api/v3/users/{id}/tokens", path: base + "/users/{target}/tokens", want: azAuthed(403, 403, 403, 403, 403, 403, 200)},
		{route: "POST /api/v3/users/{id}/tokens", path: base + "/users/{target}/tokens", want: azAuthed(403, 403, 403, 403, 403, 403, 201),
			body: func(c *azCell) any { return map[string]any{"name": "by-" + c.name, "scopes": []string{"groups:read"}} },
			check: func(t *testing.T, c *azCell, r *resp) {
				list, _, err := w.e.db.FindTokens(context.Background(), w.target.ID, roster.Page{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				made := slices.ContainsFunc(list, func(tok *roster.Token) bool { return tok.Name == "by-"+c.name })
				if made != c.ok {
					t.Fatalf("token by-%s exists = %v after status %d", c.name, made, r.Status)
				}
			}},
		{route: "POST /api/v3/activities", path: base + "/activities", want: azAuthed(201, 201, 201, 201, 201, 201, 201),
			body:  func(c *azCell) any { return w.probe(c, 0) },
			check: func(t *testing.T, c *azCell, r *resp) { w.checkProbe(t, c, r, 0) }},
		{route: "POST /api/v3/activities", path: base + "/activities", want: azAuthed(403, 201, 403, 201, 201, 201, 201),
			body:  func(c *azCell) any { return w.probe(c, w.W) },
			check: func(t *testing.T, c *azCell, r *resp) { w.checkProbe(t, c, r, w.W) }},
		// Only an admin records an activity for another actor.
		{route: "POST /api/v3/activities", path: base + "/activities", want: azAuthed(403, 403, 403, 403, 403, 403, 201),
			body: func(c *azCell) any {
				b := w.probe(c, -1)
				b["actor"] = w.alice.ID
				return b
			},
			check: func(t *testing.T, c *azCell, r *resp) {
				var stored []*roster.Activity
				for _, a := range w.raw(t) {
					if a.Verb == "authz.probe" && a.Object != nil && a.Object.ID == c.name+"--1" {
						stored = append(stored, a)
					}
				}
				if !c.ok && len(stored) != 0 || c.ok && (len(stored) != 1 || stored[0].ActorID != w.alice.ID || azID(r.JSON(t)["id"]) != stored[0].ID) {
					t.Fatalf("posting for alice as %s (%d) stored %v", c.name, r.Status, stored)
				}
			}},
	}
}

// checkNames checks the first and last name of user id after a write.
func (w *azWorld) checkNames(t *testing.T, c *azCell, id int64, first, last string) {
	t.Helper()
	u, err := w.e.db.FindUserByID(context.Background(), id)
	if err != nil {
		if !c.ok && c.p == pDeleted {
			return
		}
		t.Fatal(err)
	}
	if changed := u.FirstName == first && u.LastName == last; changed != c.ok {
		t.Fatalf("user %d is %q %q after the write as %s", id, u.FirstName, u.LastName, c.name)
	}
}

// checkRole checks user's role in W: ifOK after a success, else unchanged.
func (w *azWorld) checkRole(t *testing.T, c *azCell, user int64, ifOK, unchanged roster.Role) {
	t.Helper()
	want := unchanged
	if c.ok {
		want = ifOK
	}
	if got, err := w.e.db.WorkspaceRole(context.Background(), user, w.W); err != nil || got != want {
		t.Fatalf("role of %d in W is %v (%v), want %v", user, got, err, want)
	}
}

// checkGroupGrant checks the grant of group g on W (NoRole: none).
func (w *azWorld) checkGroupGrant(t *testing.T, c *azCell, g int64, ifOK, unchanged roster.Role) {
	t.Helper()
	want := unchanged
	if c.ok {
		want = ifOK
	}
	grants, _, err := w.e.db.FindGrants(context.Background(), w.W, roster.Page{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	got := roster.NoRole
	for _, gr := range grants {
		if gr.Subject.Type == "group" && gr.Subject.ID == g {
			got = gr.Role
		}
	}
	if got != want {
		t.Fatalf("grant of group %d on W is %v, want %v", g, got, want)
	}
}

func (w *azWorld) checkMember(t *testing.T, c *azCell, g, user int64, want bool) {
	t.Helper()
	users, _, err := w.e.db.FindGroupMembers(context.Background(), g, roster.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.ContainsFunc(users, func(u *roster.User) bool { return u.ID == user }); got != want {
		t.Fatalf("user %d in group %d = %v, want %v", user, g, got, want)
	}
}

// probe is the body of a test activity whose object id names the principal.
func (w *azWorld) probe(c *azCell, ws int64) map[string]any {
	b := map[string]any{"verb": "authz.probe", "object": map[string]string{"type": "probe", "id": c.name + "-" + strconv.FormatInt(ws, 10)}}
	if ws > 0 {
		b["workspace"] = ws
	}
	return b
}

func (w *azWorld) checkProbe(t *testing.T, c *azCell, r *resp, ws int64) {
	t.Helper()
	var stored []*roster.Activity
	for _, a := range w.raw(t) {
		if a.Verb == "authz.probe" && a.Object != nil && a.Object.ID == c.name+"-"+strconv.FormatInt(ws, 10) {
			stored = append(stored, a)
		}
	}
	if !c.ok {
		if len(stored) != 0 {
			t.Fatalf("a refused post was stored: %+v", stored[0])
		}
		return
	}
	b := r.JSON(t)
	if len(stored) != 1 || azID(b["id"]) != stored[0].ID || stored[0].ActorID != c.me() || azID(b["actor"].(map[string]any)["id"]) != c.me() {
		t.Fatalf("posted %s; stored %v", r.Body, stored)
	}
	if ws == 0 && (b["workspace"] != nil || stored[0].WorkspaceID != nil) {
		t.Fatalf("posted without a workspace, got %s", r.Body)
	}
	if ws != 0 && (stored[0].WorkspaceID == nil || *stored[0].WorkspaceID != ws || azID(b["workspace"].(map[string]any)["id"]) != ws) {
		t.Fatalf("posted into %d, got %s", ws, r.Body)
	}
}

// TestAuthorizationAccessTokenOnlyOnStream: ?access_token= authenticates the
// stream and nothing else.
func TestAuthorizationAccessTokenOnlyOnStream(t *testing.T) {
	eachStore(t, testAuthorizationAccessTokenOnlyOnStream)
}

func testAuthorizationAccessTokenOnlyOnStream(t *testing.T) {
	w := azSetup(t)
	tok := w.tokens[pViewer]
	for _, path := range []string{"/api/v3/users/me", azPath("/api/v3/users/%d/activities", w.alice.ID),
		azPath("/api/v3/workspaces/%d", w.W), azPath("/api/v3/users/%d/activities/count", w.alice.ID)} {
		azProblem(t, w.e.do("GET", path+"?access_token="+tok, "", nil), 401)
	}
	stream := azPath("/api/v3/users/%d/stream", w.alice.ID)
	if status, h, line := w.streamHead(t, stream+"?access_token="+tok, ""); status != 200 ||
		h.Get("Content-Type") != "text/event-stream" || line != "retry: 3000" {
		t.Fatalf("stream with ?access_token=: %d %q %q", status, h.Get("Content-Type"), line)
	}
	for _, p := range []int{pGarbage, pRevoked, pInactive, pDeleted} {
		status, h, body := w.streamHead(t, stream+"?access_token="+w.tokens[p], "")
		azProblem(t, &resp{Status: status, Header: h, Body: []byte(body)}, 401)
	}
	status, h, body := w.streamHead(t, stream, "")
	azProblem(t, &resp{Status: status, Header: h, Body: []byte(body)}, 401)
}

// An open stream with its event reader.
type azStream struct {
	events <-chan azEvent
	cancel context.CancelFunc
}

type azEvent struct {
	id    int64
	event string
	data  string
}

// openStream opens a stream and fails unless it answers 200.
func (w *azWorld) openStream(t *testing.T, path, token string, headers ...string) *azStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", w.e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		t.Fatalf("stream %s: status %d", path, res.StatusCode)
	}
	ch := make(chan azEvent)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		var ev azEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				if ev.event != "" {
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = azEvent{}
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id, _ = strconv.ParseInt(value, 10, 64)
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}()
	return &azStream{events: ch, cancel: cancel}
}

// until reads activity events until the one with id last and returns
// their ids, checking that each event's data is that activity.
func (s *azStream) until(t *testing.T, last int64) []int64 {
	t.Helper()
	var ids []int64
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended before event %d; got %v", last, ids)
			}
			if ev.event != "activity" {
				t.Fatalf("unexpected event %q: %s", ev.event, ev.data)
			}
			var a struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal([]byte(ev.data), &a); err != nil || a.ID != ev.id {
				t.Fatalf("event id %d with data %s", ev.id, ev.data)
			}
			ids = append(ids, ev.id)
			if ev.id == last {
				return ids
			}
			if ev.id > last {
				t.Fatalf("stream passed %d without it: %v", last, ids)
			}
		case <-timeout:
			t.Fatalf("no event %d within 10s; got %v", last, ids)
		}
	}
}

// agree checks that, for viewer, alice's list, count, active workspaces and
// a resumed stream (from resume, read until sentinel) show exactly the
// activities the model allows, under each filter.
func (w *azWorld) agree(t *testing.T, label string, viewer *roster.User, token string, resume, sentinel int64) {
	t.Helper()
	e := w.env(t)
	base := azPath("/api/v3/users/%d", w.alice.ID)
	for _, f := range []struct {
		query string
		keep  func(a *roster.Activity) bool
	}{
		{"", func(a *roster.Activity) bool { return true }},
		{"verb=document.*", func(a *roster.Activity) bool { return strings.HasPrefix(a.Verb, "document.") }},
		{azPath("workspace=%d", w.W), func(a *roster.Activity) bool { return a.WorkspaceID != nil && *a.WorkspaceID == w.W }},
	} {
		lbl := label + " [" + f.query + "]"
		want := w.visible(t, viewer.ID, func(a *roster.Activity) bool { return a.ActorID == w.alice.ID && f.keep(a) })
		list := e.do("GET", base+"/activities?page_size=1000&"+f.query, token, nil).expect(t, 200)
		azExpectPage(t, lbl+" list", list, want)
		count := e.do("GET", base+"/activities/count?"+f.query, token, nil).expect(t, 200).JSON(t)
		if azID(count["count"]) != int64(len(want)) {
			t.Fatalf("%s: count %v, list %d", lbl, count["count"], len(want))
		}
		// The stream replays oldest first what the list shows newest first.
		var replay []int64
		for _, id := range want {
			if id > resume {
				replay = append(replay, id)
			}
		}
		slices.Reverse(replay)
		if len(replay) == 0 || replay[len(replay)-1] != sentinel {
			if f.query == azPath("workspace=%d", w.W) {
				continue // the sentinel is outside W: compared by list and count only
			}
			t.Fatalf("%s: the sentinel %d is not the last visible activity: %v", lbl, sentinel, replay)
		}
		s := w.openStream(t, base+"/stream?"+f.query, token, "Last-Event-ID", strconv.FormatInt(resume, 10))
		got := s.until(t, sentinel)
		s.cancel()
		if !slices.Equal(got, replay) {
			t.Fatalf("%s: stream %v, list %v", lbl, got, replay)
		}
	}
	active := e.do("GET", base+"/activeworkspaces?page_size=1000", token, nil).expect(t, 200)
	w.checkActive(t, label+" active workspaces", active, viewer.ID, w.alice.ID)
	// Active workspaces are exactly those the visible activities are in
	// (alice has access to every workspace she acted in here).
	inList := map[int64]int{}
	for _, a := range w.raw(t) {
		if a.ActorID == w.alice.ID && a.WorkspaceID != nil && w.m.canSee(viewer.ID, a) {
			inList[*a.WorkspaceID]++
		}
	}
	p := azPage(t, active)
	if len(p.Results) != len(inList) {
		t.Fatalf("%s: active workspaces %v, visible activities in %v", label, azIDs(p.Results), inList)
	}
	for _, it := range p.Results {
		if inList[azID(it["id"])] != int(azID(it["activityCount"])) {
			t.Fatalf("%s: active workspace %v, visible activities per workspace %v", label, it, inList)
		}
	}
}

func TestVisibilityAgreement(t *testing.T) { eachStore(t, testVisibilityAgreement) }

func testVisibilityAgreement(t *testing.T) {
	w := azSetup(t)
	first := w.visible(t, w.e.Admin.ID, func(a *roster.Activity) bool { return a.ActorID == w.alice.ID })
	resume := first[len(first)-1] - 1 // just before alice's oldest activity
	alice := w.e.token(w.alice)

	// A viewer removed from G just now: it had W through G a moment ago.
	leaver := w.newUser(t, "leaver")
	w.join(t, w.G, leaver)
	w.grant(t, w.C, leaver, roster.RoleViewer)
	leaverTok := w.e.token(leaver)
	sentinel := w.post(t, alice, "document.shared", w.C)
	w.agree(t, "leaver before removal", leaver, leaverTok, resume, sentinel)
	live := w.openStream(t, azPath("/api/v3/users/%d/stream", w.alice.ID), leaverTok)
	inW := w.post(t, alice, "document.created", w.W)
	if got := live.until(t, inW); !slices.Equal(got, []int64{inW}) {
		t.Fatalf("live stream before removal: %v", got)
	}
	w.leave(t, w.G, leaver)
	hidden := w.post(t, alice, "document.created", w.W)
	sentinel = w.post(t, alice, "document.shared", w.C)
	if got := live.until(t, sentinel); !slices.Equal(got, []int64{sentinel}) {
		t.Fatalf("live stream right after removal from G: %v, want only %d (not %d in W)", got, sentinel, hidden)
	}
	w.agree(t, "leaver right after removal", leaver, leaverTok, resume, sentinel)

	viewers := []struct {
		label string
		user  *roster.User
		token string
	}{
		{"admin", w.e.Admin, w.e.AdminToken},
		{"alice herself", w.alice, alice},
		{"direct viewer of W", w.users[pViewer], w.tokens[pViewer]},
		{"via group G", w.users[pGroup], w.tokens[pGroup]},
		{"no access to W", w.users[pNone], w.tokens[pNone]},
		{"removed from G", w.users[pExGroup], w.tokens[pExGroup]},
	}
	for _, v := range viewers {
		w.agree(t, v.label, v.user, v.token, resume, sentinel)
	}

	// Live: each viewer's stream gets exactly the new activities it may see.
	streams := make([]*azStream, len(viewers))
	for i, v := range viewers {
		streams[i] = w.openStream(t, azPath("/api/v3/users/%d/stream", w.alice.ID), v.token)
	}
	var posted []int64
	for _, ws := range []int64{w.W, 0, w.X, w.Y, w.W} {
		posted = append(posted, w.post(t, alice, "document.edited", ws))
	}
	sentinel = w.post(t, alice, "document.shared", w.C)
	posted = append(posted, sentinel)
	raw := map[int64]*roster.Activity{}
	for _, a := range w.raw(t) {
		raw[a.ID] = a
	}
	for i, v := range viewers {
		var want []int64
		for _, id := range posted {
			if w.m.canSee(v.user.ID, raw[id]) {
				want = append(want, id)
			}
		}
		if got := streams[i].until(t, sentinel); !slices.Equal(got, want) {
			t.Fatalf("live stream of %s: %v, want %v", v.label, got, want)
		}
		streams[i].cancel()
		w.agree(t, v.label+" after live posts", v.user, v.token, resume, sentinel)
	}
}

// TestDeletedActorStaysInWorkspaceFeed: a deleted user's activities remain
// in the workspace feed, shown with a null username, while every read of
// the user itself is 404.
func TestDeletedActorStaysInWorkspaceFeed(t *testing.T) {
	eachStore(t, testDeletedActorStaysInWorkspaceFeed)
}

func testDeletedActorStaysInWorkspaceFeed(t *testing.T) {
	w := azSetup(t)
	gone := w.users[pDeleted]
	var goneIDs []int64
	for _, a := range w.raw(t) {
		if a.ActorID == gone.ID && a.WorkspaceID != nil && *a.WorkspaceID == w.W {
			goneIDs = append(goneIDs, a.ID)
		}
	}
	if len(goneIDs) != 1 {
		t.Fatalf("setup: deleted user's activities in W: %v", goneIDs)
	}
	for _, p := range []int{pViewer, pGroup, pAdmin} {
		r := w.e.do("GET", azPath("/api/v3/workspaces/%d/activities?page_size=1000", w.W), w.tokens[p], nil).expect(t, 200)
		want := w.visible(t, w.users[p].ID, func(a *roster.Activity) bool { return a.WorkspaceID != nil && *a.WorkspaceID == w.W })
		azExpectPage(t, "W feed as "+azNames[p], r, want)
		found := false
		for _, it := range azPage(t, r).Results {
			if azID(it["id"]) != goneIDs[0] {
				continue
			}
			found = true
			actor := it["actor"].(map[string]any)
			if azID(actor["id"]) != gone.ID || actor["username"] != nil {
				t.Fatalf("deleted actor shown as %v", actor)
			}
			if _, ok := actor["username"]; !ok {
				t.Fatalf("actor.username is missing, want null: %v", actor)
			}
		}
		if !found {
			t.Fatalf("the deleted user's activity %d is missing from W's feed as %s", goneIDs[0], azNames[p])
		}
		// Filtering the feed by verb keeps it too.
		r = w.e.do("GET", azPath("/api/v3/workspaces/%d/activities?verb=document.created", w.W), w.tokens[p], nil).expect(t, 200)
		if !slices.Contains(azIDs(azPage(t, r).Results), goneIDs[0]) {
			t.Fatalf("filtered feed lacks the deleted user's activity: %s", r.Body)
		}
	}
	// Nobody outside W sees it through any route.
	r := w.e.do("GET", azPath("/api/v3/workspaces/%d/activities", w.W), w.tokens[pNone], nil)
	azProblem(t, r, 404)
	for _, suffix := range []string{"", "/activities", "/activities/count", "/activeworkspaces"} {
		azProblem(t, w.e.do("GET", azPath("/api/v3/users/%d", gone.ID)+suffix, w.tokens[pAdmin], nil), 404)
	}
}

// TestVisibilityAfterDemotion: an admin demoted while its stream is open
// sees from then on only what a non-admin may see, on the stream as on
// every other read.
func TestVisibilityAfterDemotion(t *testing.T) { eachStore(t, testVisibilityAfterDemotion) }

func testVisibilityAfterDemotion(t *testing.T) {
	w := azSetup(t)
	boss := w.env(t).createUser("boss", true, "")
	w.m.live[boss.ID], w.m.admins[boss.ID] = true, true
	w.grant(t, w.C, boss, roster.RoleViewer)
	tok := w.e.token(boss)
	alice := w.e.token(w.alice)
	stream := azPath("/api/v3/users/%d/stream", w.alice.ID)

	s := w.openStream(t, stream, tok)
	inY := w.post(t, alice, "document.created", w.Y)
	if got := s.until(t, inY); !slices.Equal(got, []int64{inY}) {
		t.Fatalf("admin's live stream: %v, want [%d]", got, inY)
	}
	w.api(t, "PATCH", azPath("/api/v3/users/%d", boss.ID), map[string]any{"isAdmin": false}, 200)
	delete(w.m.admins, boss.ID)
	hidden := w.post(t, alice, "document.created", w.Y)
	sentinel := w.post(t, alice, "document.shared", w.C)
	if got := s.until(t, sentinel); !slices.Equal(got, []int64{sentinel}) {
		t.Fatalf("stream of a demoted admin: %v, want only %d (not %d in Y, which it cannot access)", got, sentinel, hidden)
	}
	first := w.visible(t, w.e.Admin.ID, func(a *roster.Activity) bool { return a.ActorID == w.alice.ID })
	w.agree(t, "demoted admin", boss, tok, first[len(first)-1]-1, sentinel)
}
