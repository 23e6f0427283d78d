package httpapi_test

// Fuzz targets for every JSON request decoder and for the query parameters,
// sent through the real handler on a real store: whatever the input, the
// answer is never a panic or a 5xx, and every error is problem+json. Plain
// `go test` runs the seeds below; .ci/run fuzzes each target for a bounded
// time (see RELIABILITY.md).

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/sqlstore"
)

// fuzzWorld is a server on a store with an admin, two users (alice is a
// member of workspace W and of group G, bob a viewer of W), and activities.
type fuzzWorld struct {
	db                    *sqlstore.DB
	h                     http.Handler
	srv                   *httptest.Server
	admin, alice, bob     *roster.User
	adminTok, aliceTok    string
	ws, group, activityID int64
	victim                *roster.User // a user the body fuzzers may change
	adminPass, alicePass  string
}

// newFuzzWorlds returns one fuzz world per store of the matrix (SQLite,
// and PostgreSQL when ROSTER_TEST_POSTGRES is set; .ci/run fuzzes with
// ROSTER_TEST_STORE=sqlite, one world). Built the same way, their users,
// workspace and group have the same ids in every world.
func newFuzzWorlds(f *testing.F) []*fuzzWorld {
	f.Helper()
	var worlds []*fuzzWorld
	for _, kind := range rostertest.Stores() {
		worlds = append(worlds, newFuzzWorld(f, kind))
	}
	return worlds
}

func newFuzzWorld(f *testing.F, kind string) *fuzzWorld {
	f.Helper()
	ctx := context.Background()
	db := rostertest.OpenKind(f, kind)
	s, err := rostertest.New(ctx, db, rostertest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	hasher := s.Hasher
	w := &fuzzWorld{db: db, h: s.API, srv: s.HTTP, adminPass: "adminpass", alicePass: "alicepass"}
	mk := func(name string, admin bool, pw string) *roster.User {
		hash := ""
		if pw != "" {
			if hash, err = hasher.Hash(ctx, pw); err != nil {
				f.Fatal(err)
			}
		}
		u := &roster.User{Username: name, Email: name + "@example.com", IsActive: true, IsAdmin: admin, Timezone: "UTC", Locale: "en"}
		if err := db.CreateUser(ctx, 0, u, hash); err != nil {
			f.Fatal(err)
		}
		return u
	}
	tok := func(u *roster.User) string {
		secret, hash := roster.NewTokenSecret()
		if err := db.CreateToken(ctx, &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
			f.Fatal(err)
		}
		return secret
	}
	w.admin, w.alice, w.bob = mk("admin", true, w.adminPass), mk("alice", false, w.alicePass), mk("bob", false, "")
	w.victim = mk("victim", false, "")
	w.adminTok, w.aliceTok = tok(w.admin), tok(w.alice)
	ws := &roster.Workspace{Name: "W", Slug: "w"}
	if err := db.CreateWorkspace(ctx, w.admin.ID, ws); err != nil {
		f.Fatal(err)
	}
	w.ws = ws.ID
	g := &roster.Group{Name: "G"}
	if err := db.CreateGroup(ctx, w.admin.ID, g); err != nil {
		f.Fatal(err)
	}
	w.group = g.ID
	for _, gr := range []struct {
		u    *roster.User
		role roster.Role
	}{{w.alice, roster.RoleMember}, {w.bob, roster.RoleViewer}} {
		if err := db.SetGrant(ctx, w.admin.ID, ws.ID, &roster.Grant{Subject: roster.Subject{Type: "user", ID: gr.u.ID}, Role: gr.role}); err != nil {
			f.Fatal(err)
		}
	}
	if err := db.AddGroupMember(ctx, w.admin.ID, g.ID, w.alice.ID); err != nil {
		f.Fatal(err)
	}
	for i, verb := range []string{"doc.created", "doc.updated", "page.viewed"} {
		a := &roster.Activity{ActorID: w.alice.ID, Verb: verb, Data: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}
		if i < 2 {
			a.WorkspaceID = &ws.ID
		}
		if err := db.CreateActivity(ctx, a); err != nil {
			f.Fatal(err)
		}
		w.activityID = a.ID
	}
	return w
}

// check fails on a 5xx, on an error that is not problem+json, and on a
// leaked database error.
func (w *fuzzWorld) check(t *testing.T, label string, status int, header http.Header, body []byte) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("%s: status %d: %s", label, status, body)
	}
	if status >= 400 {
		if b := string(body); !strings.Contains(b, "Unknown field") &&
			(strings.Contains(b, "database is locked") || strings.Contains(b, "sqlite") || strings.Contains(b, "SQLSTATE")) {
			t.Fatalf("%s: body leaks a database error: %s", label, body)
		}
		if ct := header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s: status %d with Content-Type %q", label, status, ct)
		}
		var p struct{ Status int }
		if err := json.Unmarshal(body, &p); err != nil || p.Status != status {
			t.Fatalf("%s: bad problem body for %d: %s", label, status, body)
		}
	}
}

// serve sends one request through the handler (no network) and checks it.
func (w *fuzzWorld) serve(t *testing.T, method, path, rawQuery, token, body string) int {
	t.Helper()
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.URL = &url.URL{Path: path, RawQuery: rawQuery}
	req.RequestURI = req.URL.RequestURI()
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	w.check(t, method+" "+path+"?"+rawQuery+" "+trunc(body), rec.Code, rec.Header(), rec.Body.Bytes())
	return rec.Code
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func (w *fuzzWorld) token(admin bool) string {
	if admin {
		return w.adminTok
	}
	return w.aliceTok
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// bodySeeds are shared hostile shapes every body fuzzer starts from.
var bodySeeds = []string{
	``, `null`, `[]`, `{}`, `{}}`, `{}]`, `{"a":1}`, `"str"`, `123`, `{"x":}`, "{\"a\":\"\xff\"}",
	`{"username":null}`, `{"username":"a","username":"b"}`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"name":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`, `{"id":1e400}`, `{"a":"\ud800"}`,
}

func addBodySeeds(f *testing.F, extra []string, prefix ...any) {
	for _, b := range append(append([]string(nil), bodySeeds...), extra...) {
		f.Add(append(append([]any(nil), prefix...), b)...)
	}
}

func FuzzUserBody(f *testing.F) {
	worlds := newFuzzWorlds(f)
	extra := []string{
		`{"username":"new1","email":"new1@example.com","password":"long enough"}`,
		`{"username":"x","email":"x@example.com","isAdmin":true,"isActive":false,"id":99,"dateJoined":"2020-01-01T00:00:00Z"}`,
		`{"username":"victim","email":"victim@example.com","firstName":"V","lastName":"W","isActive":true}`,
		`{"bio":"hi","timezone":"Europe/Paris","locale":"fr","avatarUrl":"https://example.com/a.png"}`,
		`{"timezone":"Not/AZone","avatarUrl":"javascript:alert(1)","email":"@","username":"ä ö"}`,
		`{"password":"short"}`, `{"password":"new password","currentPassword":"wrong one"}`,
		`{"isActive":"yes","isAdmin":1,"firstName":5,"groups":[{"id":1}],"lastLogin":null,"lastActiveAt":"x"}`,
		`{"username":"` + strings.Repeat("a", 151) + `"}`, `{"bio":"` + strings.Repeat("é", 2001) + `"}`,
	}
	for op := range uint8(4) {
		addBodySeeds(f, extra, op, op%2 == 0)
	}
	f.Fuzz(func(t *testing.T, op uint8, admin bool, body string) {
		for _, w := range worlds {
			switch op % 4 {
			case 0:
				w.serve(t, "POST", "/api/v3/users", "", w.token(admin), body)
			case 1:
				w.serve(t, "PUT", "/api/v3/users/"+id(w.victim.ID), "", w.token(admin), body)
			case 2:
				w.serve(t, "PATCH", "/api/v3/users/"+id(w.victim.ID), "", w.token(admin), body)
			case 3:
				w.serve(t, "PATCH", "/api/v3/users/"+id(w.alice.ID), "", w.aliceTok, body)
			}
		}
	})
}

func FuzzLoginBody(f *testing.F) {
	worlds := newFuzzWorlds(f)
	addBodySeeds(f, []string{
		`{"username":"admin","password":"adminpass"}`, `{"username":"ALICE@example.com","password":"alicepass"}`,
		`{"username":"nobody","password":"whatever1"}`, `{"username":"admin"}`, `{"username":1,"password":true}`,
		`{"username":"admin","password":"adminpass","extra":1}`, `{"username":"","password":""}`,
	})
	f.Fuzz(func(t *testing.T, body string) {
		for _, w := range worlds {
			status := w.serve(t, "POST", "/api/v3/auth/token", "", "", body)
			switch status {
			case http.StatusCreated, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge,
				http.StatusUnsupportedMediaType, http.StatusTooManyRequests:
			default:
				t.Fatalf("login answered %d to %q", status, trunc(body))
			}
		}
	})
}

func FuzzWorkspaceBody(f *testing.F) {
	worlds := newFuzzWorlds(f)
	extra := []string{`{"name":"Marketing"}`, `{"name":"M","slug":"m-1"}`, `{"slug":"Bad Slug"}`, `{"name":""}`,
		`{"name":"` + strings.Repeat("n", 300) + `"}`, `{"name":"x","slug":"w"}`, `{"id":5,"createdAt":"x","name":"y"}`}
	for _, patch := range []bool{false, true} {
		addBodySeeds(f, extra, patch, true)
	}
	f.Fuzz(func(t *testing.T, patch, admin bool, body string) {
		for _, w := range worlds {
			if patch {
				w.serve(t, "PATCH", "/api/v3/workspaces/"+id(w.ws), "", w.token(admin), body)
			} else {
				w.serve(t, "POST", "/api/v3/workspaces", "", w.token(admin), body)
			}
		}
	})
}

func FuzzGroupBody(f *testing.F) {
	worlds := newFuzzWorlds(f)
	extra := []string{`{"name":"design"}`, `{"name":"G"}`, `{"name":""}`, `{"name":7}`, `{"memberCount":3,"name":"z"}`}
	for _, patch := range []bool{false, true} {
		addBodySeeds(f, extra, patch, true)
	}
	f.Fuzz(func(t *testing.T, patch, admin bool, body string) {
		for _, w := range worlds {
			if patch {
				w.serve(t, "PATCH", "/api/v3/groups/"+id(w.group), "", w.token(admin), body)
			} else {
				w.serve(t, "POST", "/api/v3/groups", "", w.token(admin), body)
			}
		}
	})
}

func FuzzGrantBody(f *testing.F) {
	worlds := newFuzzWorlds(f)
	extra := []string{`{"role":"viewer"}`, `{"role":"member"}`, `{"role":"admin"}`, `{"role":"owner"}`, `{"role":null}`,
		`{"role":"viewer","subject":{"type":"user","id":1}}`}
	for _, group := range []bool{false, true} {
		addBodySeeds(f, extra, group, true)
	}
	f.Fuzz(func(t *testing.T, group, admin bool, body string) {
		for _, w := range worlds {
			path := "/api/v3/workspaces/" + id(w.ws) + "/permissions/users/" + id(w.bob.ID)
			if group {
				path = "/api/v3/workspaces/" + id(w.ws) + "/permissions/groups/" + id(w.group)
			}
			w.serve(t, "PUT", path, "", w.token(admin), body)
		}
	})
}

func FuzzActivityBody(f *testing.F) {
	worlds := newFuzzWorlds(f)
	w := worlds[0] // for the seeds: the ids are the same in every world
	ws := id(w.ws)
	addBodySeeds(f, []string{
		`{"verb":"document.created","object":{"type":"document","id":"d-77","name":"Q3"},"workspace":` + ws + `,"data":{"k":[1,2]}}`,
		`{"verb":"a.b","object":{"type":"doc","id":77},"data":null,"workspace":null}`,
		`{"verb":"a","actor":` + id(w.bob.ID) + `,"workspace":` + ws + `}`, `{"verb":"a","actor":999999}`,
		`{"verb":"Bad Verb"}`, `{"verb":"a","workspace":-1}`, `{"verb":"a","workspace":1.5}`, `{"verb":"a","workspace":99999}`,
		`{"verb":"a","object":{"type":""}}`, `{"verb":"a","object":{"type":"t","x":1}}`, `{"verb":"a","object":[]}`,
		`{"verb":"a","data":[1]}`, `{"verb":"a","data":{"pad":"` + strings.Repeat("x", 9000) + `"}}`,
		`{"verb":"a","id":5,"published":"2020-01-01T00:00:00Z"}`, `{"verb":"a","actor":"1"}`,
		`{"verb":"a","data":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}`,
	}, true)
	f.Fuzz(func(t *testing.T, admin bool, body string) {
		for _, w := range worlds {
			w.serve(t, "POST", "/api/v3/activities", "", w.token(admin), body)
		}
	})
}

// queryRoutes are the GET routes that read query parameters; {id} is
// replaced by the fuzzed path id when one is given.
var queryRoutes = []string{
	"/api/v3/users", "/api/v3/users/search", "/api/v3/users/{u}/activities", "/api/v3/users/{u}/activities/count",
	"/api/v3/users/{u}/activeworkspaces", "/api/v3/workspaces", "/api/v3/workspaces/{w}/activities",
	"/api/v3/workspaces/{w}/permissions", "/api/v3/workspaces/{w}/members", "/api/v3/groups", "/api/v3/groups/{g}/members",
	"/api/v3/users/{u}", "/api/v3/workspaces/{w}", "/api/v3/groups/{g}",
}

func FuzzQueryParams(f *testing.F) {
	worlds := newFuzzWorlds(f)
	queries := []string{
		"", "page=2", "page=0", "page=-1", "page=abc", "page=99999999999999999999", "page_size=1000000", "page_size=0",
		"page_size=99999999999999999999999", "page=4611686018427387904&page_size=2", "page=1&page=2&page_size=1&page_size=x",
		"ordering=-username", "ordering=password", "ordering=--id", "isActive=TRUE", "isActive=maybe", "q=jdoe", "q=%20%20",
		"q=" + strings.Repeat("a", 300), "q=a%25_b%5C", "q=%00%ff", "workspace=1", "workspace=0", "workspace=-5",
		"verb=doc.*", "verb=doc.", "verb=*", "verb=" + strings.Repeat("a", 100), "since=2026-01-01T00:00:00Z",
		"until=2026-13-01T00:00:00Z", "since=9999-12-31T23:59:59.999999999Z", "since=0001-01-01T00:00:00Z", "before=1",
		"before=9223372036854775807", "before=9223372036854775808", "days=0", "days=3650", "days=3651",
		"days=9223372036854775807", "%zz", "a=%", "page=1;page_size=3", "isActive=1&ordering=lastLogin",
	}
	for i, q := range queries {
		f.Add(uint8(i%len(queryRoutes)), "", q, i%2 == 0)
	}
	for i := range queryRoutes {
		f.Add(uint8(i), "", "page=2&page_size=1", true)
	}
	for _, p := range []string{"0", "-1", "+1", "1e3", "99999999999999999999", "%2F", "abc", " 1", "1.0"} {
		f.Add(uint8(2), p, "", true)
	}
	f.Fuzz(func(t *testing.T, route uint8, pathID, query string, admin bool) {
		for _, w := range worlds {
			path := queryRoutes[int(route)%len(queryRoutes)]
			repl := strings.NewReplacer("{u}", id(w.alice.ID), "{w}", id(w.ws), "{g}", id(w.group))
			if pathID != "" {
				if strings.ContainsAny(pathID, "/?#") || !utf8Valid(pathID) {
					return // not one path segment
				}
				repl = strings.NewReplacer("{u}", pathID, "{w}", pathID, "{g}", pathID)
			}
			w.serve(t, "GET", repl.Replace(path), query, w.token(admin), "")
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// FuzzStreamParams opens real streams (the handler runs until the client
// leaves) with fuzzed filters and resume points.
func FuzzStreamParams(f *testing.F) {
	worlds := newFuzzWorlds(f)
	for _, s := range [][2]string{
		{"", ""}, {"lastEventId=0", ""}, {"lastEventId=-1", ""}, {"lastEventId=abc", ""}, {"", "3"}, {"", "-3"},
		{"", "99999999999999999999"}, {"verb=doc.*&workspace=1", "0"}, {"since=2026-01-01T00:00:00Z", ""}, {"before=1", ""},
		{"workspace=abc", ""}, {"lastEventId=1&lastEventId=2", " 1"}, {"page=2&page_size=0", ""}, {"access_token=nope", ""},
	} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, query, lastEventID string, admin bool) {
		for _, w := range worlds {
			req, err := http.NewRequest("GET", w.srv.URL+"/api/v3/users/"+id(w.alice.ID)+"/stream", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []byte(query) {
				if c <= ' ' || c >= 0x7f || c == '#' {
					return // not a query a client sends unescaped
				}
			}
			req.URL.RawQuery = query
			req.Header.Set("Authorization", "Bearer "+w.token(admin))
			if lastEventID != "" {
				if !httpHeaderValueOK(lastEventID) {
					return // the client refuses to send it
				}
				req.Header.Set("Last-Event-ID", lastEventID)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("stream %q %q: %v", query, lastEventID, err)
			}
			defer res.Body.Close()
			var body []byte
			if res.StatusCode == http.StatusOK {
				if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
					t.Fatalf("stream answered 200 with Content-Type %q", ct)
				}
			} else {
				body, _ = io.ReadAll(res.Body)
			}
			w.check(t, "stream ?"+query+" Last-Event-ID "+lastEventID, res.StatusCode, res.Header, body)
		}
	})
}

func httpHeaderValueOK(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
