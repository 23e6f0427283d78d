package clienttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/client"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
)

// adminPassword is the password of the "admin" every test server starts with.
const adminPassword = "admin-pass-42"

// server is a real Roster: the HTTP API on a fresh SQLite file, with a
// stream broker, wired by the shared test helper (internal/rostertest).
type server struct {
	*rostertest.Server
	URL     string
	api     *httpapi.Server
	db      *sqlstore.DB
	broker  *stream.Broker
	hasher  *password.Hasher
	AdminID int64
	stop    func()
}

// startServer starts a server whose database lives in dir, with an admin
// "admin" that has password adminPW ("" for none: hashing costs time).
// cfg's Store and Broker are filled in; opts tune the broker.
func startServer(dir string, cfg httpapi.Config, opts stream.Options, adminPW string) (*server, error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "roster.db"))
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	rs, err := rostertest.New(ctx, db, rostertest.Options{API: cfg, Stream: opts})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &server{Server: rs, URL: rs.URL, api: rs.API, db: db, broker: rs.Broker, hasher: rs.Hasher}
	s.stop = func() {
		rs.Close()
		db.Close()
	}
	admin, err := s.createUser("admin", true, adminPW)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.AdminID = admin.ID
	return s, nil
}

// newServer is startServer for a test: it closes with the test. Its admin
// has no password: tests get tokens with s.token.
func newServer(t *testing.T) *server {
	t.Helper()
	return newServerWith(t, httpapi.Config{}, stream.Options{})
}

func newServerWith(t *testing.T, cfg httpapi.Config, opts stream.Options) *server {
	t.Helper()
	return newServerPW(t, cfg, opts, "")
}

func newServerPW(t *testing.T, cfg httpapi.Config, opts stream.Options, adminPW string) *server {
	t.Helper()
	s, err := startServer(t.TempDir(), cfg, opts, adminPW)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// createUser stores a user directly (with a password when pw != "").
func (s *server) createUser(username string, admin bool, pw string) (*roster.User, error) {
	return s.CreateUser(context.Background(), username, admin, pw)
}

// token makes a bearer token for user id without going through login.
func (s *server) token(t *testing.T, id int64) string {
	t.Helper()
	secret, err := s.Token(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// client returns a client of s authenticated as user id.
func (s *server) client(t *testing.T, id int64, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, append([]client.Option{client.WithToken(s.token(t, id))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// user creates a user without a password and returns its id.
func (s *server) user(t *testing.T, username string) int64 {
	t.Helper()
	u, err := s.createUser(username, false, "")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// apiError asserts that err is an *client.Error with status matching
// sentinel, and returns it.
func apiError(t *testing.T, err error, status int, sentinel error) *client.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %d", status)
	}
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *client.Error", err, err)
	}
	if e.Status != status || !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want status %d matching %v", err, status, sentinel)
	}
	if e.Title != http.StatusText(status) || e.Type != "about:blank" || e.Detail == "" {
		t.Fatalf("problem fields not carried: %+v", e)
	}
	return e
}

// browserPages are routes that serve HTML to people, not the API: the
// client has no method for them.
var browserPages = map[string]bool{"GET /admin/": true, "GET /api/v3/docs": true, "GET /{$}": true}

// TestClientCoversEveryRoute calls every method once and checks, through
// the server's per-route metrics, that every route of routes.go was hit:
// a route added without a client method fails here.
func TestClientCoversEveryRoute(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.AdminID)
	bob := s.user(t, "bob")
	const ws, g = 1, 1
	calls := []func() error{
		func() error { return c.Health(ctx) },
		func() error { return c.Ready(ctx) },
		func() error { _, err := c.OpenAPI(ctx); return err },
		func() error { _, err := c.Login(ctx, "bob", "no-password-set"); return err },
		func() error { _, err := c.ListUsers(ctx, client.UserListOptions{}); return err },
		func() error {
			_, err := c.CreateUser(ctx, client.UserCreate{Username: "x", Email: "x@example.com"})
			return err
		},
		func() error { _, err := c.Me(ctx); return err },
		func() error { _, err := c.SearchUsers(ctx, "bob", client.SearchOptions{}); return err },
		func() error { _, err := c.GetUser(ctx, bob); return err },
		func() error { _, _, err := c.GetUserIfChanged(ctx, bob, `"x"`); return err },
		func() error {
			_, err := c.UpdateUser(ctx, bob, client.UserReplace{Username: "bob", Email: "bob@example.com", IsActive: true}, "")
			return err
		},
		func() error { _, err := c.PatchUser(ctx, bob, client.UserUpdate{Bio: new("b")}, ""); return err },
		func() error { _, err := c.ListActiveWorkspaces(ctx, bob, client.ActiveWorkspaceOptions{}); return err },
		func() error { _, err := c.ListUserActivities(ctx, bob, client.ActivityFilter{}); return err },
		func() error { _, err := c.CountUserActivities(ctx, bob, client.ActivityFilter{}); return err },
		func() error {
			st, err := c.Stream(ctx, bob, client.StreamOptions{})
			if err == nil {
				st.Close()
			}
			return err
		},
		func() error { _, err := c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "W"}); return err },
		func() error { _, err := c.ListWorkspaces(ctx, client.ListOptions{}); return err },
		func() error { _, err := c.GetWorkspace(ctx, ws); return err },
		func() error { _, err := c.PatchWorkspace(ctx, ws, client.WorkspaceUpdate{Name: new("V")}); return err },
		func() error { _, err := c.CreateGroup(ctx, "G"); return err },
		func() error { _, err := c.GrantUser(ctx, ws, bob, client.RoleViewer); return err },
		func() error { _, err := c.GrantGroup(ctx, ws, g, client.RoleMember); return err },
		func() error { _, err := c.ListGrants(ctx, ws, client.ListOptions{}); return err },
		func() error { _, err := c.ListWorkspaceMembers(ctx, ws, client.ListOptions{}); return err },
		func() error {
			_, err := c.CreateActivity(ctx, client.ActivityCreate{Verb: "a.b", Workspace: ws})
			return err
		},
		func() error { _, err := c.ListWorkspaceActivities(ctx, ws, client.ActivityFilter{}); return err },
		func() error { return c.RevokeUser(ctx, ws, bob) },
		func() error { return c.RevokeGroup(ctx, ws, g) },
		func() error { _, err := c.ListGroups(ctx, client.ListOptions{}); return err },
		func() error { _, err := c.GetGroup(ctx, g); return err },
		func() error { _, err := c.RenameGroup(ctx, g, "H"); return err },
		func() error { return c.AddGroupMember(ctx, g, bob) },
		func() error { _, err := c.ListGroupMembers(ctx, g, client.ListOptions{}); return err },
		func() error { return c.RemoveGroupMember(ctx, g, bob) },
		func() error {
			tk, err := c.CreateToken(ctx, client.AccessTokenCreate{Name: "n", Scopes: []string{client.ScopeUsersRead}})
			if err == nil {
				err = c.RevokeToken(ctx, tk.ID)
			}
			return err
		},
		func() error { _, err := c.ListTokens(ctx, client.TokenListOptions{}); return err },
		func() error {
			_, err := c.CreateUserToken(ctx, bob, client.AccessTokenCreate{Name: "n", Scopes: []string{client.ScopeUsersRead}})
			return err
		},
		func() error { _, err := c.ListUserTokens(ctx, bob, client.TokenListOptions{}); return err },
		func() error { return c.DeleteGroup(ctx, g) },
		func() error { return c.DeleteWorkspace(ctx, ws) },
		func() error { return c.DeleteUser(ctx, bob) },
		func() error { _, err := c.Metrics(ctx); return err },
		func() error { return c.Logout(ctx) },
	}
	for i, call := range calls {
		err := call()
		if i == 3 { // Login of a user without a password
			apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)
		} else if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	metrics, err := c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range s.api.Routes() {
		if browserPages[route] {
			continue
		}
		if !strings.Contains(string(metrics), `route="`+route+`"`) {
			t.Errorf("no client call reached %s", route)
		}
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://example.com", "http://"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) = nil error", u)
		}
	}
	if _, err := client.New("http://localhost:8080/"); err != nil {
		t.Errorf("trailing slash: %v", err)
	}
}

func TestUserLifecycle(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	var gotUA []string
	admin := s.client(t, s.AdminID, client.WithUserAgent("roster-test/1"), client.WithHTTPClient(&http.Client{
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			gotUA = append(gotUA, r.Header.Get("User-Agent"))
			return http.DefaultTransport.RoundTrip(r)
		}),
	}))

	jane, err := admin.CreateUser(ctx, client.UserCreate{Username: "jdoe", Email: "jdoe@example.com", FirstName: "Jane",
		LastName: "Doe", Password: "jane-secret-42", Timezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	if jane.ID == 0 || jane.Username != "jdoe" || jane.FirstName != "Jane" || !jane.IsActive || jane.IsAdmin ||
		jane.Timezone != "Europe/Paris" || jane.Locale != "en" || jane.DateJoined.IsZero() || jane.LastLogin != nil ||
		jane.ETag == "" || len(jane.Groups) != 0 {
		t.Fatalf("created profile = %+v", jane)
	}
	if len(gotUA) != 1 || gotUA[0] != "roster-test/1" {
		t.Errorf("User-Agent = %q", gotUA)
	}

	got, err := admin.GetUser(ctx, jane.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != jane.ETag || got.Email != "jdoe@example.com" || !got.DateJoined.Equal(jane.DateJoined) {
		t.Fatalf("GetUser = %+v, want the created profile (ETag %s)", got, jane.ETag)
	}
	if p, changed, err := admin.GetUserIfChanged(ctx, jane.ID, got.ETag); err != nil || changed || p != nil {
		t.Fatalf("GetUserIfChanged(current) = %v, %v, %v; want not changed", p, changed, err)
	}

	// PATCH with the current ETag, then again with the stale one.
	patched, err := admin.PatchUser(ctx, jane.ID, client.UserUpdate{Bio: new("Design lead")}, got.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if patched.Bio != "Design lead" || patched.FirstName != "Jane" || patched.ETag == "" || patched.ETag == got.ETag {
		t.Fatalf("patched = %+v (old ETag %s)", patched, got.ETag)
	}
	_, err = admin.PatchUser(ctx, jane.ID, client.UserUpdate{Bio: new("too late")}, got.ETag)
	e := apiError(t, err, http.StatusPreconditionFailed, client.ErrPreconditionFailed)
	if !strings.Contains(e.Detail, "If-Match") {
		t.Errorf("412 detail = %q", e.Detail)
	}
	if p, changed, err := admin.GetUserIfChanged(ctx, jane.ID, got.ETag); err != nil || !changed || p.Bio != "Design lead" || p.ETag != patched.ETag {
		t.Fatalf("GetUserIfChanged(stale) = %+v, %v, %v", p, changed, err)
	}

	// PUT: the five core fields are sent, others stay.
	put, err := admin.UpdateUser(ctx, jane.ID, client.UserReplace{Username: "jane", Email: "jane@example.com", FirstName: "Jane",
		LastName: "Roe", IsActive: true, Locale: new("fr")}, patched.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if put.Username != "jane" || put.LastName != "Roe" || put.Locale != "fr" || put.Bio != "Design lead" || put.Timezone != "Europe/Paris" {
		t.Fatalf("after PUT = %+v", put)
	}
	_, err = admin.UpdateUser(ctx, jane.ID, client.UserReplace{Username: "jane", Email: "jane@example.com", IsActive: true}, patched.ETag)
	apiError(t, err, http.StatusPreconditionFailed, client.ErrPreconditionFailed)

	// Field validation errors are carried by field.
	_, err = admin.PatchUser(ctx, jane.ID, client.UserUpdate{Email: new("not an address"), Timezone: new("Mars/Base")}, "")
	e = apiError(t, err, http.StatusBadRequest, client.ErrInvalid)
	if len(e.FieldErrors("email")) != 1 || len(e.Errors["timezone"]) != 1 || errors.Is(err, client.ErrNotFound) {
		t.Fatalf("field errors = %v", e.Errors)
	}
	if !strings.Contains(err.Error(), "email: ") {
		t.Errorf("Error() = %q, want the field messages", err.Error())
	}
	_, err = admin.CreateUser(ctx, client.UserCreate{Username: "JANE", Email: "other@example.com"})
	apiError(t, err, http.StatusConflict, client.ErrConflict)

	// Jane herself: Me, and what she may not do.
	janeC := s.client(t, jane.ID)
	me, err := janeC.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != jane.ID || me.Username != "jane" || me.ETag == "" {
		t.Fatalf("Me = %+v", me)
	}
	_, err = janeC.PatchUser(ctx, jane.ID, client.UserUpdate{IsAdmin: new(true)}, "")
	apiError(t, err, http.StatusForbidden, client.ErrForbidden)
	_, err = janeC.CreateUser(ctx, client.UserCreate{Username: "x", Email: "x@example.com"})
	apiError(t, err, http.StatusForbidden, client.ErrForbidden)
	err = janeC.DeleteUser(ctx, s.AdminID)
	apiError(t, err, http.StatusForbidden, client.ErrForbidden)
	// The last active admin cannot be deleted.
	apiError(t, admin.DeleteUser(ctx, s.AdminID), http.StatusConflict, client.ErrConflict)

	if err := admin.DeleteUser(ctx, jane.ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetUser(ctx, jane.ID)
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	_, err = janeC.Me(ctx) // a deleted user's tokens are dead
	apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)

	nobody, _ := client.New(s.URL)
	_, err = nobody.ListUsers(ctx, client.UserListOptions{})
	apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestLoginLogout(t *testing.T) {
	s := newServerPW(t, httpapi.Config{}, stream.Options{}, adminPassword)
	ctx := context.Background()
	c, err := client.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Login(ctx, "admin", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Token, "rst_") || tok.User.ID != s.AdminID || !tok.User.IsAdmin || !tok.ExpiresAt.After(time.Now()) {
		t.Fatalf("token = %+v", tok)
	}
	if c.Token() != tok.Token {
		t.Fatal("Login did not make the client use its token")
	}
	me, err := c.Me(ctx)
	if err != nil || me.ID != s.AdminID || me.LastLogin == nil {
		t.Fatalf("Me after login = %+v, %v", me, err)
	}
	other, _ := client.New(s.URL, client.WithToken(tok.Token))
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Token() != "" {
		t.Error("Logout left the token in the client")
	}
	_, err = other.Me(ctx) // the same token, now revoked
	apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)
	apiError(t, other.Logout(ctx), http.StatusUnauthorized, client.ErrUnauthorized)

	_, err = c.Login(ctx, "admin", "wrong-password")
	apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)
	_, err = c.Login(ctx, "nobody", "wrong-password")
	apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)
}

func TestListsAndIterators(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	admin := s.client(t, s.AdminID)
	ids := []int64{s.AdminID}
	for i := range 11 {
		ids = append(ids, s.user(t, fmt.Sprintf("user%02d", i)))
	}
	// Deactivate one to test the filter.
	if _, err := admin.PatchUser(ctx, ids[3], client.UserUpdate{IsActive: new(false)}, ""); err != nil {
		t.Fatal(err)
	}

	page, err := admin.ListUsers(ctx, client.UserListOptions{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 12 || len(page.Results) != 5 || page.Next == "" || page.Previous != "" || page.Results[0].ID != s.AdminID {
		t.Fatalf("page 1 = %+v", page)
	}
	if _, err := page.PreviousPage(ctx); !errors.Is(err, client.ErrNoPage) {
		t.Fatalf("PreviousPage of page 1: %v", err)
	}
	p2, err := page.NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Results[0].ID != ids[5] || p2.Previous == "" {
		t.Fatalf("page 2 = %+v", p2)
	}
	back, err := p2.PreviousPage(ctx)
	if err != nil || back.Results[0].ID != s.AdminID {
		t.Fatalf("back to page 1 = %+v, %v", back, err)
	}
	last, err := admin.ListUsers(ctx, client.UserListOptions{PageSize: 5, Page: 3})
	if err != nil || len(last.Results) != 2 || last.Next != "" {
		t.Fatalf("page 3 = %+v, %v", last, err)
	}
	if _, err := last.NextPage(ctx); !errors.Is(err, client.ErrNoPage) {
		t.Fatalf("NextPage of the last page: %v", err)
	}
	_, err = admin.ListUsers(ctx, client.UserListOptions{PageSize: 5, Page: 4})
	if e := apiError(t, err, http.StatusNotFound, client.ErrNotFound); e.Detail != "Invalid page." {
		t.Errorf("past the end: %q", e.Detail)
	}
	_, err = admin.ListUsers(ctx, client.UserListOptions{Ordering: "password"})
	if e := apiError(t, err, http.StatusBadRequest, client.ErrInvalid); len(e.Errors["ordering"]) == 0 {
		t.Errorf("bad ordering: %v", e.Errors)
	}

	// Every user across three pages, in id order, then in reverse username order.
	var seen []int64
	for u, err := range admin.AllUsers(ctx, client.UserListOptions{PageSize: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, u.ID)
	}
	if !slices.Equal(seen, ids) {
		t.Fatalf("AllUsers = %v, want %v", seen, ids)
	}
	var names []string
	for u, err := range admin.AllUsers(ctx, client.UserListOptions{PageSize: 4, Ordering: "-username", IsActive: new(true)}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, u.Username)
	}
	if len(names) != 11 || names[0] != "user10" || names[10] != "admin" || slices.Contains(names, "user02") {
		t.Fatalf("active users by -username = %v", names)
	}
	// Stopping early stops fetching.
	n := 0
	for range admin.AllUsers(ctx, client.UserListOptions{PageSize: 2}) {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("early break: %d", n)
	}
	// A failing iterator yields the error once.
	errs := 0
	for _, err := range admin.AllUsers(ctx, client.UserListOptions{Ordering: "nope"}) {
		if !errors.Is(err, client.ErrInvalid) {
			t.Fatalf("iterator error = %v", err)
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("errors yielded = %d", errs)
	}

	// Search: one page, then all across pages.
	res, err := admin.SearchUsers(ctx, "user0", client.SearchOptions{PageSize: 3, IsActive: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 9 || len(res.Results) != 3 || res.Next == "" {
		t.Fatalf("search page = %+v", res)
	}
	var found []string
	for u, err := range admin.AllSearchResults(ctx, "USER0", client.SearchOptions{PageSize: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, u.Username)
	}
	if len(found) != 10 || found[0] != "user00" || found[9] != "user09" {
		t.Fatalf("AllSearchResults = %v", found)
	}
	exact, err := admin.SearchUsers(ctx, "user05", client.SearchOptions{})
	if err != nil || exact.Count != 1 || exact.Results[0].ID != ids[6] {
		t.Fatalf("exact search = %+v, %v", exact, err)
	}
	_, err = admin.SearchUsers(ctx, "  ", client.SearchOptions{})
	if e := apiError(t, err, http.StatusBadRequest, client.ErrInvalid); len(e.Errors["q"]) == 0 {
		t.Errorf("blank q: %v", e.Errors)
	}
}

func TestWorkspacesGroupsAndGrants(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	admin := s.client(t, s.AdminID)
	bob := s.user(t, "bob")
	carol := s.user(t, "carol")
	bobC := s.client(t, bob)

	ws, err := admin.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "Marketing Team"})
	if err != nil {
		t.Fatal(err)
	}
	if ws.ID == 0 || ws.Name != "Marketing Team" || ws.Slug != "marketing-team" || ws.CreatedAt.IsZero() {
		t.Fatalf("workspace = %+v", ws)
	}
	_, err = admin.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "Other", Slug: "marketing-team"})
	apiError(t, err, http.StatusConflict, client.ErrConflict)
	_, err = bobC.GetWorkspace(ctx, ws.ID) // no access: absent
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	if list, err := bobC.ListWorkspaces(ctx, client.ListOptions{}); err != nil || list.Count != 0 {
		t.Fatalf("bob's workspaces before a grant = %+v, %v", list, err)
	}

	g, err := admin.CreateGroup(ctx, "design")
	if err != nil || g.ID == 0 || g.Name != "design" || g.MemberCount != 0 {
		t.Fatalf("group = %+v, %v", g, err)
	}
	if err := admin.AddGroupMember(ctx, g.ID, carol); err != nil {
		t.Fatal(err)
	}
	if err := admin.AddGroupMember(ctx, g.ID, carol); err != nil { // idempotent
		t.Fatal(err)
	}
	apiError(t, bobC.AddGroupMember(ctx, g.ID, bob), http.StatusForbidden, client.ErrForbidden)
	if got, err := admin.GetGroup(ctx, g.ID); err != nil || got.MemberCount != 1 {
		t.Fatalf("group after add = %+v, %v", got, err)
	}
	members, err := bobC.ListGroupMembers(ctx, g.ID, client.ListOptions{})
	if err != nil || members.Count != 1 || members.Results[0].ID != carol || members.Results[0].Username != "carol" {
		t.Fatalf("group members = %+v, %v", members, err)
	}
	renamed, err := admin.RenameGroup(ctx, g.ID, "designers")
	if err != nil || renamed.Name != "designers" || renamed.MemberCount != 1 {
		t.Fatalf("renamed = %+v, %v", renamed, err)
	}
	_, err = admin.RenameGroup(ctx, g.ID, "")
	if e := apiError(t, err, http.StatusBadRequest, client.ErrInvalid); len(e.Errors["name"]) == 0 {
		t.Errorf("empty group name: %v", e.Errors)
	}
	if groups, err := bobC.ListGroups(ctx, client.ListOptions{}); err != nil || groups.Count != 1 || groups.Results[0].Name != "designers" {
		t.Fatalf("groups = %+v, %v", groups, err)
	}

	grant, err := admin.GrantUser(ctx, ws.ID, bob, client.RoleAdmin)
	if err != nil || grant.Role != client.RoleAdmin || grant.Subject.Type != "user" || grant.Subject.ID != bob {
		t.Fatalf("user grant = %+v, %v", grant, err)
	}
	ggrant, err := admin.GrantGroup(ctx, ws.ID, g.ID, client.RoleViewer)
	if err != nil || ggrant.Role != client.RoleViewer || ggrant.Subject.Type != "group" || ggrant.Subject.ID != g.ID {
		t.Fatalf("group grant = %+v, %v", ggrant, err)
	}
	_, err = admin.GrantUser(ctx, ws.ID, bob, "owner")
	if e := apiError(t, err, http.StatusBadRequest, client.ErrInvalid); len(e.Errors["role"]) == 0 {
		t.Errorf("bad role: %v", e.Errors)
	}
	// Bob is now a workspace admin: he reads and changes it.
	got, err := bobC.GetWorkspace(ctx, ws.ID)
	if err != nil || got.Slug != "marketing-team" {
		t.Fatalf("bob reads = %+v, %v", got, err)
	}
	patched, err := bobC.PatchWorkspace(ctx, ws.ID, client.WorkspaceUpdate{Name: new("Marketing")})
	if err != nil || patched.Name != "Marketing" || patched.Slug != "marketing-team" {
		t.Fatalf("patched = %+v, %v", patched, err)
	}
	if list, err := bobC.ListWorkspaces(ctx, client.ListOptions{}); err != nil || list.Count != 1 || list.Results[0].Name != "Marketing" {
		t.Fatalf("bob's workspaces = %+v, %v", list, err)
	}
	grants, err := bobC.ListGrants(ctx, ws.ID, client.ListOptions{})
	if err != nil || grants.Count != 2 {
		t.Fatalf("grants = %+v, %v", grants, err)
	}
	roles := map[string]client.Role{}
	for _, gr := range grants.Results {
		roles[gr.Subject.Type+":"+gr.Subject.Name] = gr.Role
	}
	if roles["user:bob"] != client.RoleAdmin || roles["group:designers"] != client.RoleViewer {
		t.Fatalf("grants = %+v", grants.Results)
	}
	wm, err := bobC.ListWorkspaceMembers(ctx, ws.ID, client.ListOptions{})
	if err != nil || wm.Count != 2 {
		t.Fatalf("members = %+v, %v", wm, err)
	}
	via := map[int64][]string{}
	for _, m := range wm.Results {
		via[m.ID] = m.Via
		if m.ID == carol && (m.Role != client.RoleViewer || m.Username != "carol") {
			t.Errorf("carol = %+v", m)
		}
	}
	if !slices.Equal(via[bob], []string{"direct"}) || !slices.Equal(via[carol], []string{"designers"}) {
		t.Fatalf("via = %v", via)
	}

	if err := bobC.RevokeGroup(ctx, ws.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	apiError(t, bobC.RevokeGroup(ctx, ws.ID, g.ID), http.StatusNotFound, client.ErrNotFound)
	if err := admin.RemoveGroupMember(ctx, g.ID, carol); err != nil {
		t.Fatal(err)
	}
	if members, err := admin.ListGroupMembers(ctx, g.ID, client.ListOptions{}); err != nil || members.Count != 0 {
		t.Fatalf("members after remove = %+v, %v", members, err)
	}
	if err := admin.RevokeUser(ctx, ws.ID, bob); err != nil {
		t.Fatal(err)
	}
	_, err = bobC.GetWorkspace(ctx, ws.ID)
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	if err := admin.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetGroup(ctx, g.ID)
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	if err := admin.DeleteWorkspace(ctx, ws.ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetWorkspace(ctx, ws.ID)
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
}

func TestActivities(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	admin := s.client(t, s.AdminID)
	bob := s.user(t, "bob")
	bobC := s.client(t, bob)
	ws, err := admin.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "Docs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GrantUser(ctx, ws.ID, bob, client.RoleMember); err != nil {
		t.Fatal(err)
	}

	a, err := bobC.CreateActivity(ctx, client.ActivityCreate{Verb: "document.created", Workspace: ws.ID,
		Object: &client.ActivityObject{Type: "document", ID: "d-77", Name: "Q3 plan"}, Data: map[string]any{"words": 120}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Actor.ID != bob || a.Actor.Username == nil || *a.Actor.Username != "bob" || a.Verb != "document.created" ||
		a.Object == nil || a.Object.ID != "d-77" || a.Workspace == nil || a.Workspace.Name != "Docs" ||
		string(a.Data) != `{"words":120}` || a.Published.IsZero() {
		t.Fatalf("activity = %+v", a)
	}
	_, err = bobC.CreateActivity(ctx, client.ActivityCreate{Verb: "Not A Verb"})
	if e := apiError(t, err, http.StatusBadRequest, client.ErrInvalid); len(e.Errors["verb"]) == 0 {
		t.Errorf("bad verb: %v", e.Errors)
	}
	_, err = bobC.CreateActivity(ctx, client.ActivityCreate{Verb: "x", Actor: s.AdminID})
	apiError(t, err, http.StatusForbidden, client.ErrForbidden)

	// Ten more for bob: half in the workspace, alternating verbs.
	var ids []int64
	ids = append(ids, a.ID)
	for i := range 10 {
		in := client.ActivityCreate{Verb: "comment.added", Actor: bob}
		if i%2 == 0 {
			in.Verb, in.Workspace = "document.edited", ws.ID
		}
		b, err := admin.CreateActivity(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}

	page, err := admin.ListUserActivities(ctx, bob, client.ActivityFilter{Verb: "document.*", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 6 || len(page.Results) != 2 || page.Results[0].ID != ids[9] || page.Next == "" {
		t.Fatalf("document.* page = %+v", page)
	}
	n, err := admin.CountUserActivities(ctx, bob, client.ActivityFilter{Workspace: ws.ID, PageSize: 1})
	if err != nil || n != 6 {
		t.Fatalf("count in workspace = %d, %v", n, err)
	}
	n, err = admin.CountUserActivities(ctx, bob, client.ActivityFilter{Before: ids[5], Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)})
	if err != nil || n != 6 { // ids[0..4] and bob's user.created
		t.Fatalf("count before %d = %d, %v", ids[5], n, err)
	}
	_, err = admin.CountUserActivities(ctx, 9999, client.ActivityFilter{})
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	_, err = admin.ListUserActivities(ctx, bob, client.ActivityFilter{Verb: "Bad Verb"})
	apiError(t, err, http.StatusBadRequest, client.ErrInvalid)

	wsPage, err := bobC.ListWorkspaceActivities(ctx, ws.ID, client.ActivityFilter{Verb: "document.edited"})
	if err != nil || wsPage.Count != 5 || wsPage.Results[0].ID != ids[9] {
		t.Fatalf("workspace feed = %+v, %v", wsPage, err)
	}
	var inWS []int64
	for act, err := range bobC.AllWorkspaceActivities(ctx, ws.ID, client.ActivityFilter{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		inWS = append(inWS, act.ID)
	}
	// The admin's own workspace.created and permission_granted are there too.
	if len(inWS) != 8 || !slices.IsSortedFunc(inWS, func(a, b int64) int { return int(b - a) }) {
		t.Fatalf("AllWorkspaceActivities = %v", inWS)
	}

	aw, err := admin.ListActiveWorkspaces(ctx, bob, client.ActiveWorkspaceOptions{Days: 7})
	if err != nil || aw.Count != 1 {
		t.Fatalf("active workspaces = %+v, %v", aw, err)
	}
	if w := aw.Results[0]; w.ID != ws.ID || w.Role != client.RoleMember || !slices.Equal(w.Via, []string{"direct"}) ||
		w.ActivityCount != 6 || w.LastActiveAt.IsZero() || w.Slug != "docs" {
		t.Fatalf("active workspace = %+v", w)
	}
	_, err = admin.ListActiveWorkspaces(ctx, bob, client.ActiveWorkspaceOptions{Days: 5000})
	if e := apiError(t, err, http.StatusBadRequest, client.ErrInvalid); len(e.Errors["days"]) == 0 {
		t.Errorf("days: %v", e.Errors)
	}
}

// TestAllUserActivitiesWalksWithBefore shows why the activity walk uses
// before= rather than page numbers: activities published during the walk
// would push older ones onto the next page and show them twice.
func TestAllUserActivitiesWalksWithBefore(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	bob := s.user(t, "bob")
	bobC := s.client(t, bob)
	want := []int64{}
	for a, err := range bobC.AllUserActivities(ctx, bob, client.ActivityFilter{}) { // bob's user.created
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.ID)
	}
	if len(want) != 1 {
		t.Fatalf("bob starts with %v", want)
	}
	for range 10 {
		a, err := bobC.CreateActivity(ctx, client.ActivityCreate{Verb: "note.added"})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{a.ID}, want...) // newest first
	}
	var got []int64
	for a, err := range bobC.AllUserActivities(ctx, bob, client.ActivityFilter{PageSize: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
		if len(got) == 2 { // newer ones arrive mid-walk
			for range 4 {
				if _, err := bobC.CreateActivity(ctx, client.ActivityCreate{Verb: "note.added"}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walk = %v, want %v", got, want)
	}
	// Starting below a given id.
	got = got[:0]
	for a, err := range bobC.AllUserActivities(ctx, bob, client.ActivityFilter{Before: want[4], PageSize: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
	}
	if !slices.Equal(got, want[5:]) {
		t.Fatalf("walk before %d = %v, want %v", want[4], got, want[5:])
	}
}

func TestOperations(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c, _ := client.New(s.URL + "/")
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	doc, err := c.OpenAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil || !strings.HasPrefix(spec.OpenAPI, "3.1") || spec.Paths["/api/v3/users/{id}/stream"] == nil {
		t.Fatalf("openapi = %.200s (%v)", doc, err)
	}
	m, err := c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m), `roster_http_requests_total{code="200",route="GET /healthz"} 1`) {
		t.Fatalf("metrics lack the health check:\n%.2000s", m)
	}
	// A closed database makes the server unready.
	s.db.Close()
	err = c.Ready(ctx)
	e := apiError(t, err, http.StatusServiceUnavailable, client.ErrUnavailable)
	if e.RetryAfter <= 0 {
		t.Errorf("503 RetryAfter = %v", e.RetryAfter)
	}
}

// TestErrorsFromProxies covers answers that are not problem+json, as a
// proxy in front of the server would send them.
func TestErrorsFromProxies(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>bad gateway</html>")
		default:
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer proxy.Close()
	c, _ := client.New(proxy.URL)
	err := c.Health(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadGateway || e.Title != "Bad Gateway" || e.Detail != "" || !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("502 = %#v", err)
	}
	_, err = c.Me(context.Background())
	if !errors.As(err, &e) || !errors.Is(err, client.ErrTooManyRequests) || e.RetryAfter < 80*time.Second || e.RetryAfter > 90*time.Second {
		t.Fatalf("429 with an HTTP-date Retry-After = %#v", err)
	}
	for _, sentinel := range []error{client.ErrInvalid, client.ErrUnauthorized, client.ErrForbidden, client.ErrNotFound,
		client.ErrConflict, client.ErrPreconditionFailed, client.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			t.Errorf("a 429 matches %v", sentinel)
		}
	}
}

func TestContextCancels(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.client(t, s.AdminID).Me(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestTokensAndScopes(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	admin := s.client(t, s.AdminID)
	svc, err := admin.CreateUser(ctx, client.UserCreate{Username: "ci", Email: "ci@example.com", IsService: true})
	if err != nil || !svc.IsService {
		t.Fatalf("service account: %+v, %v", svc, err)
	}
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	tk, err := admin.CreateUserToken(ctx, svc.ID, client.AccessTokenCreate{Name: "deploy", Scopes: []string{client.ScopeActivitiesWrite}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Token == "" || tk.Prefix != tk.Token[:8] || tk.Kind != "personal" || !tk.ExpiresAt.Equal(exp) {
		t.Fatalf("token %+v", tk)
	}
	bot, err := client.New(s.URL, client.WithToken(tk.Token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bot.CreateActivity(ctx, client.ActivityCreate{Verb: "deploy.done"}); err != nil {
		t.Fatal(err)
	}
	_, err = bot.Me(ctx)
	var apiErr *client.Error
	if !errors.Is(err, client.ErrInsufficientScope) || !errors.Is(err, client.ErrForbidden) || !errors.As(err, &apiErr) || apiErr.Scope != client.ScopeUsersRead {
		t.Fatalf("Me without users:read: %v", err)
	}
	// A plain 403 is not an insufficient scope.
	bob := s.client(t, s.user(t, "bob"))
	if _, err := bob.CreateUser(ctx, client.UserCreate{Username: "y", Email: "y@example.com"}); !errors.Is(err, client.ErrForbidden) || errors.Is(err, client.ErrInsufficientScope) {
		t.Fatalf("non-admin create: %v", err)
	}
	page, err := admin.ListUserTokens(ctx, svc.ID, client.TokenListOptions{})
	if err != nil || page.Count != 1 || page.Results[0].Token != "" {
		t.Fatalf("service account tokens: %+v %v", page, err)
	}
	people, err := admin.ListUsers(ctx, client.UserListOptions{IsService: new(false)})
	if err != nil || people.Count != 2 {
		t.Fatalf("people: %+v %v", people, err)
	}
	if err := admin.RevokeToken(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.CreateActivity(ctx, client.ActivityCreate{Verb: "deploy.done"}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
}
