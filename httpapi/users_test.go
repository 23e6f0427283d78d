package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Helpers of this file carry a "ut" prefix so that they cannot collide with
// those of the other test files of the package.

const utUsers = "/api/v3/users"

// utTimeRE is the contract's time format: RFC 3339, UTC, microseconds.
var utTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// utGoErrorText are fragments of Go, JSON-decoder or SQL error strings that
// must never reach a client.
var utGoErrorText = []string{"json:", "strconv", "sql:", "sqlite", "runtime error", "invalid character",
	"unexpected EOF", "cannot unmarshal", "%!", "roster error", "goroutine", ".go:", "http:"}

// utExpect is resp.expect plus: an error body carries no Go error text.
func utExpect(t *testing.T, r *resp, status int) *resp {
	t.Helper()
	r.expect(t, status)
	if status >= 400 {
		for _, frag := range utGoErrorText {
			if strings.Contains(string(r.Body), frag) {
				t.Fatalf("error body leaks %q: %s", frag, r.Body)
			}
		}
	}
	return r
}

// utErrors returns the "errors" member of a problem body (nil when absent).
func utErrors(t *testing.T, r *resp) map[string][]string {
	t.Helper()
	var p struct {
		Errors map[string][]string `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.Body)
	}
	return p.Errors
}

// utWantErrors fails unless the problem's errors name exactly fields, and
// msgs[field], where given, is among the field's messages.
func utWantErrors(t *testing.T, r *resp, msgs map[string]string) {
	t.Helper()
	got := utErrors(t, r)
	var gotKeys, wantKeys []string
	for k := range got {
		gotKeys = append(gotKeys, k)
	}
	for k := range msgs {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("errors name %v, want %v; body: %s", gotKeys, wantKeys, r.Body)
	}
	for f, m := range msgs {
		if len(got[f]) == 0 {
			t.Fatalf("errors[%s] is empty; body: %s", f, r.Body)
		}
		if m != "" && !slices.Contains(got[f], m) {
			t.Fatalf("errors[%s] = %q, want %q", f, got[f], m)
		}
	}
}

// utDetail returns the detail of a problem body.
func utDetail(t *testing.T, r *resp) string {
	t.Helper()
	d, _ := r.JSON(t)["detail"].(string)
	return d
}

// utPage is a decoded list envelope.
type utPage struct {
	Count    int              `json:"count"`
	Next     *string          `json:"next"`
	Previous *string          `json:"previous"`
	Results  []map[string]any `json:"results"`
}

// utList GETs a list and decodes its envelope, checking its exact keys.
func utList(t *testing.T, e *env, path, token string) utPage {
	t.Helper()
	r := utExpect(t, e.do("GET", path, token, nil), http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	utKeys(t, r.JSON(t), "count", "next", "previous", "results")
	var p utPage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Results == nil {
		t.Fatalf("results is not an array: %s", r.Body)
	}
	return p
}

func (p utPage) ids() []int64 {
	ids := make([]int64, len(p.Results))
	for i, u := range p.Results {
		ids[i] = int64(u["id"].(float64))
	}
	return ids
}

// utKeys fails unless m has exactly the keys.
func utKeys(t *testing.T, m map[string]any, keys ...string) {
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

var utProfileKeys = []string{"id", "username", "email", "firstName", "lastName", "isActive", "isAdmin", "isService", "bio",
	"avatarUrl", "timezone", "locale", "dateJoined", "lastLogin", "lastActiveAt", "groups"}

func utPath(id int64) string { return utUsers + "/" + strconv.FormatInt(id, 10) }

// utGet returns the profile of user id as the admin sees it.
func utGet(t *testing.T, e *env, id int64) map[string]any {
	t.Helper()
	return utExpect(t, e.do("GET", utPath(id), e.AdminToken, nil), http.StatusOK).JSON(t)
}

// utSame fails unless the profile of id is still want.
func utSame(t *testing.T, e *env, id int64, want map[string]any) {
	t.Helper()
	if got := utGet(t, e, id); !reflect.DeepEqual(got, want) {
		t.Fatalf("profile changed:\n got %v\nwant %v", got, want)
	}
}

// utCreate stores a user directly (no password, actor: the admin); mod may
// set fields first.
func utCreate(t *testing.T, e *env, username string, mod func(u *roster.User)) *roster.User {
	t.Helper()
	u := &roster.User{Username: username, Email: strings.ToLower(username) + "@example.com", IsActive: true,
		Timezone: "UTC", Locale: "en"}
	if mod != nil {
		mod(u)
	}
	if err := e.db.CreateUser(context.Background(), e.Admin.ID, u, ""); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// utClock makes the store's clock settable; install it before any request.
type utClock struct{ ns atomic.Int64 }

func utSetClock(e *env) *utClock {
	c := &utClock{}
	c.ns.Store(time.Now().UnixNano())
	e.clock.use(c)
	return c
}

func (c *utClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

func (c *utClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// utStampLogin records a login of u at the store's current time, as a
// successful POST /auth/token does, without the cost of a password hash.
func utStampLogin(t *testing.T, e *env, u *roster.User) {
	t.Helper()
	_, hash := roster.NewTokenSecret()
	tok := &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.db.CreateSession(context.Background(), tok, "user:"+strconv.FormatInt(u.ID, 10)); err != nil {
		t.Fatal(err)
	}
}

func utLogin(e *env, username, pw string) *resp {
	return e.do("POST", "/api/v3/auth/token", "", map[string]any{"username": username, "password": pw})
}

// utUnauthorized checks a 401 with its WWW-Authenticate challenge.
func utUnauthorized(t *testing.T, r *resp) {
	t.Helper()
	utExpect(t, r, http.StatusUnauthorized)
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", h)
	}
}

// ---------------------------------------------------------------- list

func TestUserListEnvelope(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserListEnvelope)
}

func testUserListEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var want []int64
	want = append(want, e.Admin.ID)
	for _, n := range []string{"u1", "u2", "u3", "u4"} {
		want = append(want, utCreate(t, e, n, nil).ID)
	}
	p := utList(t, e, utUsers, e.AdminToken)
	if p.Count != 5 || p.Next != nil || p.Previous != nil || !slices.Equal(p.ids(), want) {
		t.Fatalf("page = %+v, ids %v, want count 5, no links, ids %v", p, p.ids(), want)
	}
	for _, u := range p.Results {
		utKeys(t, u, "id", "username", "email", "firstName", "lastName", "isActive")
	}
	if r := p.Results[1]; r["username"] != "u1" || r["email"] != "u1@example.com" || r["isActive"] != true ||
		r["firstName"] != "" || r["lastName"] != "" {
		t.Fatalf("summary = %v", r)
	}
	// Any user may list.
	bob := e.createUser("bob", false, "")
	if p := utList(t, e, utUsers, e.token(bob)); p.Count != 6 {
		t.Fatalf("count as non-admin = %d, want 6", p.Count)
	}
	utUnauthorized(t, e.do("GET", utUsers, "", nil))
}

func TestUserListPagination(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserListPagination)
}

func testUserListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := []int64{e.Admin.ID}
	for _, n := range []string{"p1", "p2", "p3", "p4"} {
		ids = append(ids, utCreate(t, e, n, nil).ID)
	}
	abs := func(q string) *string { s := e.URL + utUsers + q; return &s }
	pages := []struct {
		query      string
		want       []int64
		next, prev *string
	}{
		{"?page_size=2", ids[0:2], abs("?page=2&page_size=2"), nil},
		{"?page=1&page_size=2", ids[0:2], abs("?page=2&page_size=2"), nil},
		{"?page=2&page_size=2", ids[2:4], abs("?page=3&page_size=2"), abs("?page_size=2")},
		{"?page=3&page_size=2", ids[4:5], nil, abs("?page=2&page_size=2")},
		{"?page_size=5", ids, nil, nil},
		{"?page_size=4&page=2", ids[4:5], nil, abs("?page_size=4")},
		{"?page_size=1000", ids, nil, nil},
		{"?page=5&page_size=1", ids[4:5], nil, abs("?page=4&page_size=1")},
		{"", ids, nil, nil},
	}
	for _, tc := range pages {
		t.Run("ok"+tc.query, func(t *testing.T) {
			p := utList(t, e, utUsers+tc.query, e.AdminToken)
			if p.Count != 5 || !slices.Equal(p.ids(), tc.want) {
				t.Fatalf("count %d ids %v, want 5 %v", p.Count, p.ids(), tc.want)
			}
			if !reflect.DeepEqual(p.Next, tc.next) || !reflect.DeepEqual(p.Previous, tc.prev) {
				t.Fatalf("next %v previous %v, want %v %v", utDeref(p.Next), utDeref(p.Previous), utDeref(tc.next), utDeref(tc.prev))
			}
		})
	}
	for _, q := range []string{"page=4&page_size=2", "page=2&page_size=5", "page=6&page_size=1", "page=6", "page=2", "page=0", "page=-1", "page=abc", "page=",
		"page=1.5", "page=99999999999999999999", "page=4611686018427387904&page_size=2"} {
		t.Run("invalid page "+q, func(t *testing.T) {
			r := utExpect(t, e.do("GET", utUsers+"?"+q, e.AdminToken, nil), http.StatusNotFound)
			if d := utDetail(t, r); d != "Invalid page." {
				t.Fatalf("detail = %q, want %q", d, "Invalid page.")
			}
		})
	}
	for _, q := range []string{"page_size=0", "page_size=-1", "page_size=abc", "page_size=", "page_size=2.5", "page_size=-99999999999999999999"} {
		t.Run("bad "+q, func(t *testing.T) {
			r := utExpect(t, e.do("GET", utUsers+"?"+q, e.AdminToken, nil), http.StatusBadRequest)
			utWantErrors(t, r, map[string]string{"page_size": ""})
		})
	}
}

func utDeref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestUserListPageSizeLimits needs more than 1000 users to see the default
// size and the clamp at work.
func TestUserListPageSizeLimits(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserListPageSizeLimits)
}

func testUserListPageSizeLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 1000 {
		utCreate(t, e, "bulk"+strconv.Itoa(i), nil)
	}
	const total = 1001
	p := utList(t, e, utUsers, e.AdminToken)
	if p.Count != total || len(p.Results) != 50 || utDeref(p.Next) != e.URL+utUsers+"?page=2" || p.Previous != nil {
		t.Fatalf("default page: count %d, %d results, next %s, previous %s", p.Count, len(p.Results), utDeref(p.Next), utDeref(p.Previous))
	}
	p = utList(t, e, utUsers+"?page=21", e.AdminToken)
	if len(p.Results) != 1 || p.Next != nil || utDeref(p.Previous) != e.URL+utUsers+"?page=20" {
		t.Fatalf("last default page: %d results, next %s, previous %s", len(p.Results), utDeref(p.Next), utDeref(p.Previous))
	}
	utExpect(t, e.do("GET", utUsers+"?page=22", e.AdminToken, nil), http.StatusNotFound)
	for _, size := range []string{"1000", "1001", "5000", "99999999999999999999"} {
		p := utList(t, e, utUsers+"?page_size="+size, e.AdminToken)
		if p.Count != total || len(p.Results) != 1000 || utDeref(p.Next) != e.URL+utUsers+"?page=2&page_size="+size {
			t.Fatalf("page_size=%s: count %d, %d results, next %s", size, p.Count, len(p.Results), utDeref(p.Next))
		}
		p = utList(t, e, utUsers+"?page=2&page_size="+size, e.AdminToken)
		if len(p.Results) != 1 || p.Results[0]["username"] != "bulk999" || p.Next != nil ||
			utDeref(p.Previous) != e.URL+utUsers+"?page_size="+size {
			t.Fatalf("page 2 of page_size=%s: %v, next %s, previous %s", size, p.ids(), utDeref(p.Next), utDeref(p.Previous))
		}
		utExpect(t, e.do("GET", utUsers+"?page=3&page_size="+size, e.AdminToken, nil), http.StatusNotFound)
	}
}

func TestUserListOrdering(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserListOrdering)
}

func testUserListOrdering(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock := utSetClock(e)
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	clock.set(base.Add(3 * time.Hour))
	carol := utCreate(t, e, "carol", func(u *roster.User) {
		u.Email, u.FirstName, u.LastName = "zed@example.com", "Bob", "Young"
	}).ID
	clock.set(base.Add(1 * time.Hour))
	aliceU := utCreate(t, e, "alice", func(u *roster.User) {
		u.Email, u.FirstName, u.LastName = "mike@example.com", "Bob", "Adams"
	})
	alice := aliceU.ID
	clock.set(base.Add(2 * time.Hour))
	bob := utCreate(t, e, "bob", func(u *roster.User) {
		u.Email, u.FirstName, u.LastName = "amy@example.com", "Alan", "Young"
	}).ID
	clock.set(base.Add(10 * time.Hour))
	utStampLogin(t, e, &roster.User{ID: carol})
	clock.set(base.Add(5 * time.Hour))
	utStampLogin(t, e, aliceU)
	admin := e.Admin.ID // "admin", admin@example.com, no names, joined now, never logged in

	cases := []struct {
		ordering string
		want     []int64
	}{
		{"", []int64{admin, carol, alice, bob}},
		{"id", []int64{admin, carol, alice, bob}},
		{"username", []int64{admin, alice, bob, carol}},
		{"email", []int64{admin, bob, alice, carol}},
		{"firstName", []int64{admin, bob, carol, alice}}, // Bob ties broken by id
		{"lastName", []int64{admin, alice, carol, bob}},  // Young ties broken by id
		{"dateJoined", []int64{alice, bob, carol, admin}},
		// most recent login first; the contract leaves open at which end users
		// who never logged in go (the store suite accepts either), so the
		// test allows both, the opposite direction being the exact reverse
		{"-lastLogin", []int64{carol, alice, bob, admin}},
	}
	nullsFirst := map[string][]int64{"-lastLogin": {bob, admin, carol, alice}}
	for _, tc := range cases {
		t.Run("ordering="+tc.ordering, func(t *testing.T) {
			p := utList(t, e, utUsers+"?ordering="+url.QueryEscape(tc.ordering), e.AdminToken)
			if alt, ok := nullsFirst[tc.ordering]; ok && slices.Equal(p.ids(), alt) {
				tc.want = alt
			}
			if !slices.Equal(p.ids(), tc.want) {
				t.Fatalf("ids = %v, want %v", p.ids(), tc.want)
			}
			if tc.ordering == "" {
				return
			}
			// The opposite direction is the exact reverse (ties too).
			opposite := "-" + tc.ordering
			if strings.HasPrefix(tc.ordering, "-") {
				opposite = tc.ordering[1:]
			}
			rev := slices.Clone(tc.want)
			slices.Reverse(rev)
			p = utList(t, e, utUsers+"?ordering="+url.QueryEscape(opposite), e.AdminToken)
			if !slices.Equal(p.ids(), rev) {
				t.Fatalf("ordering=%s: ids = %v, want %v", opposite, p.ids(), rev)
			}
			// Ordering holds across pages.
			p1 := utList(t, e, utUsers+"?page_size=3&ordering="+url.QueryEscape(tc.ordering), e.AdminToken)
			p2 := utList(t, e, utUsers+"?page=2&page_size=3&ordering="+url.QueryEscape(tc.ordering), e.AdminToken)
			if got := append(p1.ids(), p2.ids()...); !slices.Equal(got, tc.want) {
				t.Fatalf("paged ids = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"nope", "-", "--id", "ID", "first_name", "password", "isActive", "id,username", "+id", " id"} {
		t.Run("bad ordering "+bad, func(t *testing.T) {
			r := utExpect(t, e.do("GET", utUsers+"?ordering="+url.QueryEscape(bad), e.AdminToken, nil), http.StatusBadRequest)
			utWantErrors(t, r, map[string]string{"ordering": ""})
		})
	}
}

func TestUserListIsActive(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserListIsActive)
}

func testUserListIsActive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := utCreate(t, e, "a", nil).ID
	b := utCreate(t, e, "b", nil).ID
	c := utCreate(t, e, "c", nil).ID

	check := func(query string, want []int64) {
		t.Helper()
		p := utList(t, e, utUsers+query, e.AdminToken)
		if p.Count != len(want) || !slices.Equal(p.ids(), want) {
			t.Fatalf("%s: count %d ids %v, want %d %v", query, p.Count, p.ids(), len(want), want)
		}
	}
	check("?isActive=true", []int64{e.Admin.ID, a, b, c})
	check("?isActive=false", []int64{}) // page 1 of an empty list is fine
	utExpect(t, e.do("GET", utUsers+"?isActive=false&page=2", e.AdminToken, nil), http.StatusNotFound)

	utExpect(t, e.do("PATCH", utPath(b), e.AdminToken, map[string]any{"isActive": false}), http.StatusOK)
	check("?isActive=true", []int64{e.Admin.ID, a, c})
	check("?isActive=false", []int64{b})
	check("", []int64{e.Admin.ID, a, b, c})
	check("?isActive=true&ordering=-id", []int64{c, a, e.Admin.ID})

	utExpect(t, e.do("PATCH", utPath(b), e.AdminToken, map[string]any{"isActive": true}), http.StatusOK)
	utExpect(t, e.do("PATCH", utPath(a), e.AdminToken, map[string]any{"isActive": false}), http.StatusOK)
	check("?isActive=false", []int64{a})
	utExpect(t, e.do("DELETE", utPath(a), e.AdminToken, nil), http.StatusNoContent)
	check("?isActive=false", []int64{})
	check("?isActive=true", []int64{e.Admin.ID, b, c})
	d := utExpect(t, e.do("POST", utUsers, e.AdminToken, map[string]any{"username": "d", "email": "d@example.com", "isActive": false}),
		http.StatusCreated).JSON(t)
	check("?isActive=false", []int64{int64(d["id"].(float64))})
	check("?isActive=true", []int64{e.Admin.ID, b, c})

	check("?isActive=TRUE", []int64{e.Admin.ID, b, c})
	check("?isActive=1", []int64{e.Admin.ID, b, c})
	check("?isActive=False", []int64{int64(d["id"].(float64))})
	check("?isActive=0", []int64{int64(d["id"].(float64))})
	for _, bad := range []string{"yes", "2", "nope", "truee", "-1", "t"} {
		r := utExpect(t, e.do("GET", utUsers+"?isActive="+bad, e.AdminToken, nil), http.StatusBadRequest)
		utWantErrors(t, r, map[string]string{"isActive": ""})
	}
}

// TestUserListLinksKeepParams walks next and previous links of a filtered,
// ordered list: they are absolute and keep every other parameter.
func TestUserListLinksKeepParams(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserListLinksKeepParams)
}

func testUserListLinksKeepParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	byName := map[string]int64{"admin": e.Admin.ID}
	for _, n := range []string{"dora", "bert", "zoe", "anna", "carl"} {
		byName[n] = utCreate(t, e, n, nil).ID
	}
	utExpect(t, e.do("PATCH", utPath(byName["carl"]), e.AdminToken, map[string]any{"isActive": false}), http.StatusOK)
	want := []int64{byName["zoe"], byName["dora"], byName["bert"], byName["anna"], byName["admin"]}

	first := utUsers + "?ordering=-username&isActive=true&page_size=2&foo=b%26r" // unknown parameters are ignored, and kept
	var got []int64
	var last utPage
	path, n := first, 1
	for {
		p := utList(t, e, path, e.AdminToken)
		if p.Count != len(want) {
			t.Fatalf("count = %d, want %d", p.Count, len(want))
		}
		got = append(got, p.ids()...)
		last = p
		if p.Next == nil {
			break
		}
		n++
		path = utRelative(t, e, *p.Next, n)
	}
	if !slices.Equal(got, want) || n != 3 {
		t.Fatalf("walked ids %v over %d pages, want %v over 3", got, n, want)
	}
	// and back again
	var back []int64
	p := last
	for p.Previous != nil {
		n--
		p = utList(t, e, utRelative(t, e, *p.Previous, n), e.AdminToken)
		back = append(p.ids(), back...)
	}
	if !slices.Equal(append(back, last.ids()...), want) {
		t.Fatalf("walked back %v, want %v", back, want[:4])
	}
}

// utRelative checks that link is an absolute URL of the list with page n and
// the walk's other parameters, and returns its path and query.
func utRelative(t *testing.T, e *env, link string, n int) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(e.URL)
	if u.Scheme != "http" || u.Host != base.Host || u.Path != utUsers {
		t.Fatalf("link %q is not an absolute URL of %s%s", link, e.URL, utUsers)
	}
	q := u.Query()
	if q.Get("ordering") != "-username" || q.Get("isActive") != "true" || q.Get("page_size") != "2" || q.Get("foo") != "b&r" {
		t.Fatalf("link %q lost a parameter", link)
	}
	if page := q.Get("page"); (n == 1 && q.Has("page")) || (n > 1 && page != strconv.Itoa(n)) {
		t.Fatalf("link %q: want page %d", link, n)
	}
	return u.RequestURI()
}

// ---------------------------------------------------------------- get

func TestUserGetProfile(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserGetProfile)
}

func testUserGetProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock := utSetClock(e)
	clock.set(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	u := utCreate(t, e, "jdoe", func(u *roster.User) {
		u.FirstName, u.LastName, u.Bio = "Jane", "Doe", "Hello\nworld"
		u.AvatarURL, u.Timezone, u.Locale = "https://example.com/a.png", "Europe/Paris", "fr-FR"
	})
	clock.set(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	utStampLogin(t, e, u)

	want := map[string]any{
		"id": float64(u.ID), "username": "jdoe", "email": "jdoe@example.com", "firstName": "Jane", "lastName": "Doe",
		"isActive": true, "isAdmin": false, "isService": false, "bio": "Hello\nworld", "avatarUrl": "https://example.com/a.png",
		"timezone": "Europe/Paris", "locale": "fr-FR",
		"dateJoined":   "2024-05-06T07:08:09.123456Z",
		"lastLogin":    "2024-06-01T00:00:00.000000Z",
		"lastActiveAt": "2024-06-01T00:00:00.000000Z",
		"groups":       []any{},
	}
	bob := e.createUser("bob", false, "")
	r := utExpect(t, e.do("GET", utPath(u.ID), e.token(bob), nil), http.StatusOK) // any user may read
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Fatalf("Cache-Control = %q, want private, no-cache", cc)
	}
	got := r.JSON(t)
	utKeys(t, got, utProfileKeys...)
	// jdoe's newest activity (auth.login, in no workspace) is not visible
	// to bob, so neither is its time (issue 16, item 5); an admin sees it.
	bobWant := map[string]any{}
	for k, v := range want {
		bobWant[k] = v
	}
	bobWant["lastActiveAt"] = nil
	if !reflect.DeepEqual(got, bobWant) {
		t.Fatalf("profile =\n%v\nwant\n%v", got, bobWant)
	}
	got = utExpect(t, e.do("GET", utPath(u.ID), e.AdminToken, nil), http.StatusOK).JSON(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("profile =\n%v\nwant\n%v", got, want)
	}

	// A user who never logged in nor acted: nulls, not absent keys.
	fresh := utCreate(t, e, "fresh", nil)
	p := utGet(t, e, fresh.ID)
	utKeys(t, p, utProfileKeys...)
	if p["lastLogin"] != nil || p["lastActiveAt"] != nil || p["bio"] != "" || p["avatarUrl"] != "" ||
		!reflect.DeepEqual(p["groups"], []any{}) {
		t.Fatalf("fresh profile = %v", p)
	}
	if s, _ := p["dateJoined"].(string); !utTimeRE.MatchString(s) || s != "2024-06-01T00:00:00.000000Z" {
		t.Fatalf("dateJoined = %q", s)
	}
	// The admin acted (it created users): lastActiveAt is set, in the format.
	if s, _ := utGet(t, e, e.Admin.ID)["lastActiveAt"].(string); !utTimeRE.MatchString(s) {
		t.Fatalf("admin lastActiveAt = %q", s)
	}
}

func TestUserGetETag(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserGetETag)
}

func testUserGetETag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := utCreate(t, e, "etag", nil)
	r := utExpect(t, e.do("GET", utPath(u.ID), e.AdminToken, nil), http.StatusOK)
	tag := r.Header.Get("ETag")
	if len(tag) < 3 || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		t.Fatalf("ETag = %q, want a quoted strong validator", tag)
	}
	if again := e.do("GET", utPath(u.ID), e.AdminToken, nil).Header.Get("ETag"); again != tag {
		t.Fatalf("ETag not stable: %q then %q", tag, again)
	}
	for _, inm := range []string{tag, "W/" + tag, `"nope", ` + tag, "*"} {
		r := e.do("GET", utPath(u.ID), e.AdminToken, nil, "If-None-Match", inm)
		if r.Status != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != tag {
			t.Fatalf("If-None-Match %s: status %d, body %q, ETag %q; want 304, empty, %s", inm, r.Status, r.Body, r.Header.Get("ETag"), tag)
		}
	}
	utExpect(t, e.do("GET", utPath(u.ID), e.AdminToken, nil, "If-None-Match", `"nope"`), http.StatusOK)

	w := utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, map[string]any{"bio": "changed"}), http.StatusOK)
	r2 := utExpect(t, e.do("GET", utPath(u.ID), e.AdminToken, nil, "If-None-Match", tag), http.StatusOK)
	tag2 := r2.Header.Get("ETag")
	if tag2 == "" || tag2 == tag {
		t.Fatalf("ETag after change = %q, was %q", tag2, tag)
	}
	if w.Header.Get("ETag") != tag2 {
		t.Fatalf("PATCH answered ETag %q, GET then %q", w.Header.Get("ETag"), tag2)
	}
	if r2.JSON(t)["bio"] != "changed" {
		t.Fatalf("bio not changed: %s", r2.Body)
	}
}

// TestUserWriteAnswersMatchGet: the profile (and ETag) a write answers with is
// what a GET right after returns, also when a user edits itself (its own
// user.updated activity moves its lastActiveAt).
func TestUserWriteAnswersMatchGet(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserWriteAnswersMatchGet)
}

func testUserWriteAnswersMatchGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.createUser("bob", false, "")
	bobTok := e.token(bob)
	cases := []struct {
		name, method, token string
		id                  func() int64
		body                map[string]any
	}{
		{"self patch", "PATCH", bobTok, func() int64 { return bob.ID }, map[string]any{"firstName": "Bobby"}},
		{"self put", "PUT", bobTok, func() int64 { return bob.ID },
			map[string]any{"username": "bob", "email": "bob@example.com", "firstName": "B", "lastName": "Ob", "isActive": true}},
		{"admin patch other", "PATCH", e.AdminToken, func() int64 { return bob.ID }, map[string]any{"bio": "x"}},
		{"admin patch self", "PATCH", e.AdminToken, func() int64 { return e.Admin.ID }, map[string]any{"bio": "boss"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := utExpect(t, e.do(tc.method, utPath(tc.id()), tc.token, tc.body), http.StatusOK)
			g := utExpect(t, e.do("GET", utPath(tc.id()), tc.token, nil), http.StatusOK)
			if !reflect.DeepEqual(w.JSON(t), g.JSON(t)) {
				t.Fatalf("%s answered\n%s\nGET then\n%s", tc.method, w.Body, g.Body)
			}
			if w.Header.Get("ETag") == "" || w.Header.Get("ETag") != g.Header.Get("ETag") {
				t.Fatalf("ETag %q, GET then %q", w.Header.Get("ETag"), g.Header.Get("ETag"))
			}
			// so the answer's ETag is good for the next conditional write
			utExpect(t, e.do("PATCH", utPath(tc.id()), tc.token, map[string]any{"lastName": "Next"},
				"If-Match", w.Header.Get("ETag")), http.StatusOK)
		})
	}
	// POST too.
	r := utExpect(t, e.do("POST", utUsers, e.AdminToken, map[string]any{"username": "new", "email": "new@example.com"}), http.StatusCreated)
	g := utExpect(t, e.do("GET", r.Header.Get("Location"), e.AdminToken, nil), http.StatusOK)
	if !reflect.DeepEqual(r.JSON(t), g.JSON(t)) || r.Header.Get("ETag") != g.Header.Get("ETag") {
		t.Fatalf("POST answered %s (ETag %s), GET then %s (ETag %s)", r.Body, r.Header.Get("ETag"), g.Body, g.Header.Get("ETag"))
	}
}

func TestUserBadIDs(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserBadIDs)
}

func testUserBadIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.createUser("bob", false, "")
	bobTok := e.token(bob)
	doomed := utCreate(t, e, "doomed", nil)
	utExpect(t, e.do("DELETE", utPath(doomed.ID), e.AdminToken, nil), http.StatusNoContent)
	ids := []string{"abc", "0", "-1", "1.5", "%2B1", "99999999999999999999", "1e3", "0x1", "%201", "999999",
		strconv.FormatInt(doomed.ID, 10)}
	for _, id := range ids {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
			var body any
			if m == "PUT" || m == "PATCH" {
				body = map[string]any{"username": "x", "email": "x@example.com", "firstName": "", "lastName": "", "isActive": true}
			}
			r := utExpect(t, e.do(m, utUsers+"/"+id, e.AdminToken, body), http.StatusNotFound)
			if utErrors(t, r) != nil {
				t.Fatalf("%s %s: unexpected errors: %s", m, id, r.Body)
			}
			if m == "GET" || m == "PATCH" {
				// a non-admin gets the same 404, never a 403 that tells
				utExpect(t, e.do(m, utUsers+"/"+id, bobTok, body), http.StatusNotFound)
			}
		}
	}
}

func TestUserMe(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserMe)
}

func testUserMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.createUser("bob", false, "")
	tok := e.token(bob)
	me := utExpect(t, e.do("GET", utUsers+"/me", tok, nil), http.StatusOK)
	byID := utExpect(t, e.do("GET", utPath(bob.ID), tok, nil), http.StatusOK)
	if !reflect.DeepEqual(me.JSON(t), byID.JSON(t)) {
		t.Fatalf("me = %s, by id = %s", me.Body, byID.Body)
	}
	utKeys(t, me.JSON(t), utProfileKeys...)
	if me.Header.Get("ETag") != byID.Header.Get("ETag") {
		t.Fatalf("me ETag %q, by id %q", me.Header.Get("ETag"), byID.Header.Get("ETag"))
	}
	utUnauthorized(t, e.do("GET", utUsers+"/me", "", nil))
}

// ---------------------------------------------------------------- create

func TestUserCreate(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserCreate)
}

func testUserCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := utExpect(t, e.do("POST", utUsers, e.AdminToken, map[string]any{"username": "min", "email": "min@example.com"}), http.StatusCreated)
	p := r.JSON(t)
	utKeys(t, p, utProfileKeys...)
	id := int64(p["id"].(float64))
	if loc := r.Header.Get("Location"); loc != utPath(id) && loc != e.URL+utPath(id) {
		t.Fatalf("Location = %q, want %s", loc, utPath(id))
	}
	if r.Header.Get("ETag") == "" {
		t.Fatal("no ETag on 201")
	}
	defaults := map[string]any{"username": "min", "email": "min@example.com", "firstName": "", "lastName": "",
		"isActive": true, "isAdmin": false, "bio": "", "avatarUrl": "", "timezone": "UTC", "locale": "en",
		"lastLogin": nil, "lastActiveAt": nil, "groups": []any{}}
	for k, v := range defaults {
		if !reflect.DeepEqual(p[k], v) {
			t.Fatalf("%s = %#v, want %#v", k, p[k], v)
		}
	}
	if s, _ := p["dateJoined"].(string); !utTimeRE.MatchString(s) {
		t.Fatalf("dateJoined = %q", s)
	}
	utSame(t, e, id, p)

	full := map[string]any{"username": "jane", "email": "jane@example.com", "firstName": "Jane", "lastName": "Doe",
		"isActive": false, "isAdmin": true, "bio": "b", "avatarUrl": "http://example.com/x.png", "timezone": "Asia/Tokyo",
		"locale": "ja-JP", "password": "a-good-password"}
	p2 := utExpect(t, e.do("POST", utUsers, e.AdminToken, full), http.StatusCreated).JSON(t)
	for k, v := range full {
		if k != "password" && p2[k] != v {
			t.Fatalf("%s = %#v, want %#v", k, p2[k], v)
		}
	}
	if int64(p2["id"].(float64)) <= id {
		t.Fatalf("second id %v not above %d", p2["id"], id)
	}
	utSame(t, e, int64(p2["id"].(float64)), p2)

	// A password given at creation works (once the user is active).
	utExpect(t, e.do("PATCH", utPath(int64(p2["id"].(float64))), e.AdminToken, map[string]any{"isActive": true}), http.StatusOK)
	utExpect(t, utLogin(e, "jane", "a-good-password"), http.StatusCreated)

	// Only admins create.
	bob := e.createUser("bob", false, "")
	before := utList(t, e, utUsers, e.AdminToken).Count
	utExpect(t, e.do("POST", utUsers, e.token(bob), map[string]any{"username": "sneaky", "email": "s@example.com"}), http.StatusForbidden)
	if after := utList(t, e, utUsers, e.AdminToken).Count; after != before {
		t.Fatalf("count %d after a forbidden create, was %d", after, before)
	}
	utUnauthorized(t, e.do("POST", utUsers, "", map[string]any{"username": "anon", "email": "a@example.com"}))
}

func TestUserCreateValidation(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserCreateValidation)
}

func testUserCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const (
		blank    = "This field may not be blank."
		badName  = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
		badEmail = "Enter a valid email address."
		badURL   = "Enter a valid http or https URL."
		badTZ    = "Enter a known IANA time zone name."
		badLoc   = "Enter a valid BCP 47 language tag."
		ctrl     = "This field may not contain control characters."
		shortPW  = "Ensure this field has at least 8 characters."
		notStr   = "Not a valid string."
		notBool  = "Must be a valid boolean."
	)
	long := func(n int) string {
		return "Ensure this field has no more than " + strconv.Itoa(n) + " characters."
	}
	email := func(n int) string { // a valid address of n characters
		domain := "example.com"
		return strings.Repeat("e", n-1-len(domain)) + "@" + domain
	}
	cases := []struct {
		name string
		set  map[string]any
		want map[string]string
	}{
		{"username missing", map[string]any{"username": nil}, map[string]string{"username": roster.MsgRequired}},
		{"email missing", map[string]any{"email": nil}, map[string]string{"email": roster.MsgRequired}},
		{"username blank", map[string]any{"username": ""}, map[string]string{"username": blank}},
		{"username space", map[string]any{"username": "j doe"}, map[string]string{"username": badName}},
		{"username slash", map[string]any{"username": "j/doe"}, map[string]string{"username": badName}},
		{"username emoji", map[string]any{"username": "j😀"}, map[string]string{"username": badName}},
		{"username 151", map[string]any{"username": strings.Repeat("u", 151)}, map[string]string{"username": long(150)}},
		{"email blank", map[string]any{"email": ""}, map[string]string{"email": blank}},
		{"email no at", map[string]any{"email": "nope"}, map[string]string{"email": badEmail}},
		{"email no dot", map[string]any{"email": "a@b"}, map[string]string{"email": badEmail}},
		{"email with name", map[string]any{"email": "Jane <j@example.com>"}, map[string]string{"email": badEmail}},
		{"email two ats", map[string]any{"email": "a@b@example.com"}, map[string]string{"email": badEmail}},
		{"email 255", map[string]any{"email": email(255)}, map[string]string{"email": long(254)}},
		{"firstName 151", map[string]any{"firstName": strings.Repeat("f", 151)}, map[string]string{"firstName": long(150)}},
		{"lastName 151", map[string]any{"lastName": strings.Repeat("é", 151)}, map[string]string{"lastName": long(150)}},
		{"firstName control", map[string]any{"firstName": "a\x00b"}, map[string]string{"firstName": ctrl}},
		{"bio 2001", map[string]any{"bio": strings.Repeat("b", 2001)}, map[string]string{"bio": long(2000)}},
		{"avatarUrl ftp", map[string]any{"avatarUrl": "ftp://example.com/a.png"}, map[string]string{"avatarUrl": badURL}},
		{"avatarUrl javascript", map[string]any{"avatarUrl": "javascript:alert(1)"}, map[string]string{"avatarUrl": badURL}},
		{"avatarUrl relative", map[string]any{"avatarUrl": "/a.png"}, map[string]string{"avatarUrl": badURL}},
		{"avatarUrl no host", map[string]any{"avatarUrl": "https://"}, map[string]string{"avatarUrl": badURL}},
		{"timezone unknown", map[string]any{"timezone": "Mars/Olympus_Mons"}, map[string]string{"timezone": badTZ}},
		{"timezone blank", map[string]any{"timezone": ""}, map[string]string{"timezone": badTZ}},
		{"timezone Local", map[string]any{"timezone": "Local"}, map[string]string{"timezone": badTZ}},
		{"timezone path", map[string]any{"timezone": "../../etc/passwd"}, map[string]string{"timezone": badTZ}},
		{"locale blank", map[string]any{"locale": ""}, map[string]string{"locale": badLoc}},
		{"locale underscore", map[string]any{"locale": "en_US"}, map[string]string{"locale": badLoc}},
		{"locale digits", map[string]any{"locale": "123"}, map[string]string{"locale": badLoc}},
		{"locale long subtag", map[string]any{"locale": "en-abcdefghi"}, map[string]string{"locale": badLoc}},
		{"password 7", map[string]any{"password": "1234567"}, map[string]string{"password": shortPW}},
		{"password empty", map[string]any{"password": ""}, map[string]string{"password": shortPW}},
		{"username number", map[string]any{"username": 5}, map[string]string{"username": notStr}},
		{"email bool", map[string]any{"email": true}, map[string]string{"email": notStr}},
		{"bio object", map[string]any{"bio": map[string]any{}}, map[string]string{"bio": notStr}},
		{"firstName null", map[string]any{"firstName": json.RawMessage("null")}, map[string]string{"firstName": roster.MsgNull}},
		{"password number", map[string]any{"password": 12345678}, map[string]string{"password": notStr}},
		{"isActive string", map[string]any{"isActive": "true"}, map[string]string{"isActive": notBool}},
		{"isAdmin number", map[string]any{"isAdmin": 1}, map[string]string{"isAdmin": notBool}},
		{"isActive null", map[string]any{"isActive": json.RawMessage("null")}, map[string]string{"isActive": roster.MsgNull}},
		{"many at once", map[string]any{"username": "bad name", "email": "bad", "timezone": "x", "avatarUrl": "x"},
			map[string]string{"username": badName, "email": badEmail, "timezone": badTZ, "avatarUrl": badURL}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"username": "newbie", "email": "newbie@example.com"}
			for k, v := range tc.set {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			r := utExpect(t, e.do("POST", utUsers, e.AdminToken, body), http.StatusBadRequest)
			utWantErrors(t, r, tc.want)
		})
	}
	if n := utList(t, e, utUsers, e.AdminToken).Count; n != 1 {
		t.Fatalf("%d users after invalid creates, want 1", n)
	}

	// The limits themselves are fine.
	okCases := []map[string]any{
		{"username": strings.Repeat("u", 150), "email": email(254), "firstName": strings.Repeat("f", 150),
			"lastName": strings.Repeat("ł", 150), "bio": strings.Repeat("b", 1998) + "\r\n"},
		{"username": "José_ü.1+@-", "email": "jose+tag@sub.example.org", "avatarUrl": "https://example.com/a.png?s=1",
			"timezone": "America/Argentina/Buenos_Aires", "locale": "zh-Hant-TW"},
		{"username": "plain", "email": "plain@example.com", "avatarUrl": "", "timezone": "UTC", "locale": "pt-BR",
			"bio": "line1\nline2\ttab", "password": "12345678"},
	}
	for i, body := range okCases {
		p := utExpect(t, e.do("POST", utUsers, e.AdminToken, body), http.StatusCreated).JSON(t)
		g := utGet(t, e, int64(p["id"].(float64)))
		for k, v := range body {
			if k != "password" && g[k] != v {
				t.Fatalf("ok case %d: stored %s = %#v, want %#v", i, k, g[k], v)
			}
		}
	}
}

func TestUserCreateConflicts(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserCreateConflicts)
}

func testUserCreateConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	utCreate(t, e, "jdoe", nil)
	utCreate(t, e, "Ångström", func(u *roster.User) { u.Email = "angstrom@example.com" })
	const (
		nameTaken  = "A user with that username already exists."
		emailTaken = "A user with that email already exists."
	)
	cases := []struct {
		username, email string
		want            map[string]string
	}{
		{"JDoe", "other@example.com", map[string]string{"username": nameTaken}},
		{"JDOE", "other@example.com", map[string]string{"username": nameTaken}},
		{"other", "JDoe@Example.COM", map[string]string{"email": emailTaken}},
		{"jDoE", "jdoe@example.com", map[string]string{"username": nameTaken, "email": emailTaken}},
		{"ÅNGSTRÖM", "other@example.com", map[string]string{"username": nameTaken}},
		{"ångström", "other@example.com", map[string]string{"username": nameTaken}},
	}
	for _, tc := range cases {
		r := utExpect(t, e.do("POST", utUsers, e.AdminToken, map[string]any{"username": tc.username, "email": tc.email}), http.StatusConflict)
		utWantErrors(t, r, tc.want)
	}
	if n := utList(t, e, utUsers, e.AdminToken).Count; n != 3 {
		t.Fatalf("%d users after conflicting creates, want 3", n)
	}
}

func TestUserCreateBodies(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserCreateBodies)
}

func testUserCreateBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const (
		notObject = "The request body must be a JSON object."
		notJSON   = "The request body is not valid JSON."
	)
	deep := func(open, close string, n int) string {
		return `{"username":"deep","email":"deep@example.com","bio":` + strings.Repeat(open, n) + "1" + strings.Repeat(close, n) + `}`
	}
	big := `{"username":"big","email":"big@example.com","bio":"` + strings.Repeat("a", utMaxBody) + `"}`
	exact := `{"bio":"` + strings.Repeat("a", utMaxBody-len(`{"bio":""}`)) + `"}`
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		detail      string
		errors      map[string]string
	}{
		{"array", `[]`, "application/json", 400, notObject, nil},
		{"array of object", `[{"username":"a","email":"a@example.com"}]`, "application/json", 400, notObject, nil},
		{"string", `"x"`, "application/json", 400, notObject, nil},
		{"number", `42`, "application/json", 400, notObject, nil},
		{"null", `null`, "application/json", 400, notObject, nil},
		{"true", `true`, "application/json", 400, notObject, nil},
		{"empty", ``, "application/json", 400, notJSON, nil},
		{"truncated", `{"username":"a"`, "application/json", 400, notJSON, nil},
		{"bad value", `{"username":}`, "application/json", 400, notJSON, nil},
		{"trailing comma", `{"username":"a","email":"a@example.com",}`, "application/json", 400, notJSON, nil},
		{"single quotes", `{'username':'a'}`, "application/json", 400, notJSON, nil},
		{"two objects", `{"username":"a","email":"a@example.com"}{}`, "application/json", 400, "", nil},
		{"trailing garbage", `{"username":"a","email":"a@example.com"} x`, "application/json", 400, "", nil},
		{"trailing bracket", `{"username":"a","email":"a@example.com"}]`, "application/json", 400, "", nil},
		{"trailing brace", `{"username":"a","email":"a@example.com"}}`, "application/json", 400, "", nil},
		{"invalid utf-8", "{\"username\":\"a\",\"email\":\"a@example.com\",\"bio\":\"\xff\"}", "application/json", 400, notJSON, nil},
		{"unknown fields", `{"username":"a","email":"a@example.com","foo":1,"Username":"b"}`, "application/json", 400, "",
			map[string]string{"foo": "Unknown field.", "Username": "Unknown field."}},
		{"currentPassword on create", `{"username":"a","email":"a@example.com","currentPassword":"x"}`, "application/json", 400, "",
			map[string]string{"currentPassword": "Unknown field."}},
		{"text/plain", `{"username":"a","email":"a@example.com"}`, "text/plain", 415, "", nil},
		{"form", `username=a&email=a%40example.com`, "application/x-www-form-urlencoded", 415, "", nil},
		{"no content type", `{"username":"a","email":"a@example.com"}`, "", 415, "", nil},
		{"json-ish prefix", `{"username":"a","email":"a@example.com"}`, "application/jsonx", 415, "", nil},
		{"over 1 MiB", big, "application/json", 413, "", nil},
		{"exactly 1 MiB", exact, "application/json", 400, "",
			map[string]string{"username": roster.MsgRequired, "email": roster.MsgRequired, "bio": ""}},
		{"array nested 10000 deep", deep("[", "]", 10000), "application/json", 400, "", nil},
		{"object nested 10000 deep", deep(`{"a":`, "}", 10000), "application/json", 400, "", nil},
		{"array nested 100000 deep", deep("[", "]", 100000), "application/json", 400, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := utExpect(t, e.do("POST", utUsers, e.AdminToken, tc.body, "Content-Type", tc.contentType), tc.status)
			if tc.detail != "" && utDetail(t, r) != tc.detail {
				t.Fatalf("detail = %q, want %q", utDetail(t, r), tc.detail)
			}
			if tc.errors != nil {
				utWantErrors(t, r, tc.errors)
			}
		})
	}
	t.Run("over 1 MiB chunked", func(t *testing.T) {
		r := utRawPost(t, e, big)
		utExpect(t, r, http.StatusRequestEntityTooLarge)
	})
	if n := utList(t, e, utUsers, e.AdminToken).Count; n != 1 {
		t.Fatalf("%d users after bad bodies, want 1", n)
	}

	for _, ct := range []string{"application/json; charset=utf-8", "application/merge-patch+json", "Application/JSON"} {
		utExpect(t, e.do("POST", utUsers, e.AdminToken, `{"username":"ct`+strconv.Itoa(len(ct))+`","email":"ct`+
			strconv.Itoa(len(ct))+`@example.com"}`, "Content-Type", ct), http.StatusCreated)
	}

	// Read-only fields echoed from a GET are ignored.
	echo := map[string]any{"username": "echo", "email": "echo@example.com", "id": 999, "dateJoined": "2000-01-01T00:00:00.000000Z",
		"lastLogin": "2000-01-01T00:00:00.000000Z", "lastActiveAt": nil, "groups": []any{map[string]any{"id": 1, "name": "x"}}}
	p := utExpect(t, e.do("POST", utUsers, e.AdminToken, echo), http.StatusCreated).JSON(t)
	if p["id"] == float64(999) || p["dateJoined"] == echo["dateJoined"] || p["lastLogin"] != nil ||
		!reflect.DeepEqual(p["groups"], []any{}) {
		t.Fatalf("read-only fields were taken: %v", p)
	}
	utExpect(t, e.do("GET", utPath(999), e.AdminToken, nil), http.StatusNotFound)
}

const utMaxBody = 1 << 20

// utRawPost posts body as admin with no Content-Length (chunked).
func utRawPost(t *testing.T, e *env, body string) *resp {
	t.Helper()
	req, err := http.NewRequest("POST", e.URL+utUsers, struct{ *strings.Reader }{strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// ---------------------------------------------------------------- put, patch

func TestUserPut(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserPut)
}

func testUserPut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := utCreate(t, e, "putme", func(u *roster.User) {
		u.Bio, u.Timezone, u.Locale, u.AvatarURL = "keep me", "Europe/Paris", "fr", "https://example.com/p.png"
	})
	five := func() map[string]any {
		return map[string]any{"username": "putme2", "email": "putme2@example.com", "firstName": "Put", "lastName": "Me", "isActive": true}
	}
	before := utGet(t, e, u.ID)

	r := utExpect(t, e.do("PUT", utPath(u.ID), e.AdminToken, map[string]any{}), http.StatusBadRequest)
	utWantErrors(t, r, map[string]string{"username": roster.MsgRequired, "email": roster.MsgRequired,
		"firstName": roster.MsgRequired, "lastName": roster.MsgRequired, "isActive": roster.MsgRequired})
	for _, missing := range []string{"username", "email", "firstName", "lastName", "isActive"} {
		body := five()
		delete(body, missing)
		body["bio"] = "should not land"
		r := utExpect(t, e.do("PUT", utPath(u.ID), e.AdminToken, body), http.StatusBadRequest)
		utWantErrors(t, r, map[string]string{missing: roster.MsgRequired})
	}
	body := five()
	body["username"] = json.RawMessage("null")
	utWantErrors(t, utExpect(t, e.do("PUT", utPath(u.ID), e.AdminToken, body), http.StatusBadRequest),
		map[string]string{"username": roster.MsgNull})
	utSame(t, e, u.ID, before)

	got := utExpect(t, e.do("PUT", utPath(u.ID), e.AdminToken, five()), http.StatusOK).JSON(t)
	want := utCopy(before)
	for k, v := range five() {
		want[k] = v
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PUT answered\n%v\nwant\n%v", got, want)
	}
	utSame(t, e, u.ID, want)

	// The user itself may PUT, echoing its whole profile back.
	tok := e.token(&roster.User{ID: u.ID})
	echo := utGet(t, e, u.ID)
	echo["bio"], echo["lastName"] = "mine", "Mine"
	got = utExpect(t, e.do("PUT", utPath(u.ID), tok, echo), http.StatusOK).JSON(t)
	if got["bio"] != "mine" || got["lastName"] != "Mine" || got["timezone"] != "Europe/Paris" {
		t.Fatalf("self PUT answered %v", got)
	}
}

func utCopy(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestUserPatch(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserPatch)
}

func testUserPatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := utCreate(t, e, "patchme", func(u *roster.User) {
		u.FirstName, u.LastName, u.Bio, u.Timezone = "Pat", "Ch", "old", "Asia/Tokyo"
	})
	other := utCreate(t, e, "other", nil)
	before := utGet(t, e, u.ID)

	steps := []struct {
		name   string
		body   any
		status int
		change map[string]any // fields expected to change (on success)
		errors map[string]string
	}{
		{"empty", map[string]any{}, 200, nil, nil},
		{"bio only", map[string]any{"bio": "new bio"}, 200, map[string]any{"bio": "new bio"}, nil},
		{"two fields", map[string]any{"timezone": "Europe/Berlin", "locale": "de-DE"}, 200,
			map[string]any{"timezone": "Europe/Berlin", "locale": "de-DE"}, nil},
		{"clear avatar", map[string]any{"avatarUrl": ""}, 200, nil, nil},
		{"case of own username", map[string]any{"username": "PatchMe"}, 200, map[string]any{"username": "PatchMe"}, nil},
		{"same email other case", map[string]any{"email": "PATCHME@example.com"}, 200, map[string]any{"email": "PATCHME@example.com"}, nil},
		{"invalid", map[string]any{"bio": "fine", "timezone": "Nowhere/City"}, 400, nil, map[string]string{"timezone": ""}},
		{"unknown", map[string]any{"bio": "fine", "nickname": "p"}, 400, nil, map[string]string{"nickname": "Unknown field."}},
		{"wrong type", map[string]any{"isActive": "false"}, 400, nil, map[string]string{"isActive": ""}},
		{"taken username", map[string]any{"username": "OTHER", "bio": "fine"}, 409, nil,
			map[string]string{"username": "A user with that username already exists."}},
		{"taken email", map[string]any{"email": "Other@Example.com"}, 409, nil,
			map[string]string{"email": "A user with that email already exists."}},
		{"not JSON", "bio=x", 400, nil, nil},
		{"read-only echoed", map[string]any{"id": other.ID, "groups": []any{}, "dateJoined": "x", "lastName": "Changed"}, 200,
			map[string]any{"lastName": "Changed"}, nil},
	}
	cur := before
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, st.body), st.status)
			if st.errors != nil {
				utWantErrors(t, r, st.errors)
			}
			if st.status == 200 {
				for k, v := range st.change {
					cur[k] = v
				}
				if !reflect.DeepEqual(r.JSON(t), cur) {
					t.Fatalf("answered\n%s\nwant\n%v", r.Body, cur)
				}
			}
			utSame(t, e, u.ID, cur)
		})
	}
	utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, `{"bio":"x"}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	utSame(t, e, u.ID, cur)
	if other := utGet(t, e, other.ID); other["username"] != "other" || other["lastName"] != "" {
		t.Fatalf("other user changed: %v", other)
	}
}

func TestUserIfMatch(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserIfMatch)
}

func testUserIfMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := utCreate(t, e, "cond", nil)
	five := map[string]any{"username": "cond", "email": "cond@example.com", "firstName": "C", "lastName": "D", "isActive": true}
	r := utExpect(t, e.do("GET", utPath(u.ID), e.AdminToken, nil), http.StatusOK)
	tag, before := r.Header.Get("ETag"), r.JSON(t)

	for _, m := range []string{"PUT", "PATCH"} {
		for _, im := range []string{`"bogus"`, `"` + strings.Repeat("0", 24) + `"`, "W/\"bogus\""} {
			r := utExpect(t, e.do(m, utPath(u.ID), e.AdminToken, five, "If-Match", im), http.StatusPreconditionFailed)
			if r.Header.Get("ETag") != "" {
				t.Fatalf("412 carries an ETag")
			}
			utSame(t, e, u.ID, before)
		}
	}
	w := utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, map[string]any{"bio": "1"}, "If-Match", tag), http.StatusOK)
	// the old tag is now stale
	utExpect(t, e.do("PUT", utPath(u.ID), e.AdminToken, five, "If-Match", tag), http.StatusPreconditionFailed)
	utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, map[string]any{"bio": "2"}, "If-Match", tag), http.StatusPreconditionFailed)
	if g := utGet(t, e, u.ID); g["bio"] != "1" || g["firstName"] != "" {
		t.Fatalf("a failed If-Match changed the user: %v", g)
	}
	p := utExpect(t, e.do("PUT", utPath(u.ID), e.AdminToken, five, "If-Match", w.Header.Get("ETag")), http.StatusOK).JSON(t)
	if p["firstName"] != "C" || p["bio"] != "1" {
		t.Fatalf("PUT with a good If-Match answered %v", p)
	}
	// "*" matches any current representation; a list matches if one does.
	utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, map[string]any{"bio": "3"}, "If-Match", "*"), http.StatusOK)
	cur := e.do("GET", utPath(u.ID), e.AdminToken, nil).Header.Get("ETag")
	utExpect(t, e.do("PATCH", utPath(u.ID), e.AdminToken, map[string]any{"bio": "4"}, "If-Match", `"x", `+cur), http.StatusOK)
	if g := utGet(t, e, u.ID); g["bio"] != "4" {
		t.Fatalf("bio = %v, want 4", g["bio"])
	}
}

// ---------------------------------------------------------------- permissions

func TestUserPermissions(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserPermissions)
}

func testUserPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.createUser("bob", false, "")
	carol := e.createUser("carol", false, "")
	bobTok, carolTok := e.token(bob), e.token(carol)

	cases := []struct {
		name   string
		method string
		token  string
		id     int64
		body   any
		status int
	}{
		{"non-admin patches another", "PATCH", bobTok, carol.ID, map[string]any{"firstName": "x"}, 403},
		{"non-admin puts another", "PUT", bobTok, carol.ID,
			map[string]any{"username": "carol", "email": "carol@example.com", "firstName": "x", "lastName": "", "isActive": true}, 403},
		{"non-admin sets another's password", "PATCH", bobTok, carol.ID, map[string]any{"password": "long-enough-pw"}, 403},
		{"non-admin deletes another", "DELETE", bobTok, carol.ID, nil, 403},
		{"non-admin deletes itself", "DELETE", bobTok, bob.ID, nil, 403},
		{"non-admin deactivates itself", "PATCH", bobTok, bob.ID, map[string]any{"isActive": false}, 403},
		{"non-admin promotes itself", "PATCH", bobTok, bob.ID, map[string]any{"isAdmin": true}, 403},
		{"non-admin promotes itself with other fields", "PATCH", bobTok, bob.ID, map[string]any{"bio": "x", "isAdmin": true}, 403},
		{"non-admin PUT deactivating itself", "PUT", bobTok, bob.ID,
			map[string]any{"username": "bob", "email": "bob@example.com", "firstName": "", "lastName": "", "isActive": false}, 403},
		{"non-admin demotes the admin", "PATCH", bobTok, e.Admin.ID, map[string]any{"isAdmin": false}, 403},
		{"non-admin on nobody", "PATCH", bobTok, 424242, map[string]any{"firstName": "x"}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := map[int64]map[string]any{}
			for _, id := range []int64{bob.ID, carol.ID, e.Admin.ID} {
				before[id] = utGet(t, e, id)
			}
			r := utExpect(t, e.do(tc.method, utPath(tc.id), tc.token, tc.body), tc.status)
			if utErrors(t, r) != nil {
				t.Fatalf("a %d names fields: %s", tc.status, r.Body)
			}
			for id, p := range before {
				utSame(t, e, id, p)
			}
		})
	}
	// Sending the current values of the admin-only fields is fine.
	p := utExpect(t, e.do("PATCH", utPath(bob.ID), bobTok, map[string]any{"isActive": true, "isAdmin": false, "firstName": "Bobby"}), http.StatusOK).JSON(t)
	if p["firstName"] != "Bobby" || p["isAdmin"] != false || p["isActive"] != true {
		t.Fatalf("self PATCH answered %v", p)
	}
	// The admin may change anyone, including the admin-only fields.
	p = utExpect(t, e.do("PATCH", utPath(carol.ID), e.AdminToken, map[string]any{"isAdmin": true, "firstName": "Carol"}), http.StatusOK).JSON(t)
	if p["isAdmin"] != true || p["firstName"] != "Carol" {
		t.Fatalf("admin PATCH answered %v", p)
	}
	// ... and the new admin's existing token now acts as admin.
	utExpect(t, e.do("PATCH", utPath(bob.ID), carolTok, map[string]any{"lastName": "B"}), http.StatusOK)
	if utGet(t, e, bob.ID)["lastName"] != "B" {
		t.Fatal("new admin's PATCH did not land")
	}
}

func TestUserPasswordChangeSelf(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserPasswordChangeSelf)
}

func testUserPasswordChangeSelf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pat := e.createUser("pat", false, "old-password")
	used, other := e.token(pat), e.token(pat)

	steps := []struct {
		name string
		body map[string]any
		want map[string]string
	}{
		{"no currentPassword", map[string]any{"password": "new-password"}, map[string]string{"currentPassword": roster.MsgRequired}},
		{"wrong currentPassword", map[string]any{"password": "new-password", "currentPassword": "not-it-at-all"},
			map[string]string{"currentPassword": "The current password is not correct."}},
		{"null currentPassword", map[string]any{"password": "new-password", "currentPassword": json.RawMessage("null")},
			map[string]string{"currentPassword": ""}},
		{"too short", map[string]any{"password": "short", "currentPassword": "old-password"},
			map[string]string{"password": "Ensure this field has at least 8 characters."}},
	}
	before := utGet(t, e, pat.ID)
	for _, st := range steps {
		r := utExpect(t, e.do("PATCH", utPath(pat.ID), used, st.body), http.StatusBadRequest)
		utWantErrors(t, r, st.want)
		utExpect(t, e.do("GET", utUsers+"/me", other, nil), http.StatusOK) // nothing revoked
	}
	utSame(t, e, pat.ID, before)

	p := utExpect(t, e.do("PATCH", utPath(pat.ID), used, map[string]any{"password": "new-password", "currentPassword": "old-password"}),
		http.StatusOK).JSON(t)
	utKeys(t, p, utProfileKeys...) // never the password
	utExpect(t, e.do("GET", utUsers+"/me", used, nil), http.StatusOK)
	utUnauthorized(t, e.do("GET", utUsers+"/me", other, nil))
	utExpect(t, e.do("GET", utUsers+"/me", e.AdminToken, nil), http.StatusOK)
	utUnauthorized(t, utLogin(e, "pat", "old-password"))
	utExpect(t, utLogin(e, "pat", "new-password"), http.StatusCreated)

	// The admin changing its own password also confirms the current one.
	r := utExpect(t, e.do("PATCH", utPath(e.Admin.ID), e.AdminToken, map[string]any{"password": "new-admin-pw"}), http.StatusBadRequest)
	utWantErrors(t, r, map[string]string{"currentPassword": roster.MsgRequired})
}

func TestUserPasswordSetByAdmin(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserPasswordSetByAdmin)
}

func testUserPasswordSetByAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	quinn := e.createUser("quinn", false, "")
	qTok := e.token(quinn)
	p := utExpect(t, e.do("PATCH", utPath(quinn.ID), e.AdminToken, map[string]any{"password": "set-by-admin"}), http.StatusOK).JSON(t)
	utKeys(t, p, utProfileKeys...)
	utUnauthorized(t, e.do("GET", utUsers+"/me", qTok, nil)) // quinn's sessions end
	utExpect(t, e.do("GET", utUsers+"/me", e.AdminToken, nil), http.StatusOK)
	utExpect(t, utLogin(e, "quinn", "set-by-admin"), http.StatusCreated)
	r := utExpect(t, e.do("PATCH", utPath(quinn.ID), e.AdminToken, map[string]any{"password": "short"}), http.StatusBadRequest)
	utWantErrors(t, r, map[string]string{"password": ""})
}

// ---------------------------------------------------------------- delete

func TestUserDelete(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserDelete)
}

func testUserDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keep := utCreate(t, e, "keep", nil)
	gone := e.createUser("gone", false, "")
	goneTok := e.token(gone)

	r := e.do("DELETE", utPath(gone.ID), e.AdminToken, nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: %d %q, want 204 and no body", r.Status, r.Body)
	}
	utExpect(t, e.do("GET", utPath(gone.ID), e.AdminToken, nil), http.StatusNotFound)
	utExpect(t, e.do("PATCH", utPath(gone.ID), e.AdminToken, map[string]any{"bio": "x"}), http.StatusNotFound)
	utExpect(t, e.do("DELETE", utPath(gone.ID), e.AdminToken, nil), http.StatusNotFound)
	utUnauthorized(t, e.do("GET", utUsers+"/me", goneTok, nil))
	p := utList(t, e, utUsers, e.AdminToken)
	if p.Count != 2 || !slices.Equal(p.ids(), []int64{e.Admin.ID, keep.ID}) {
		t.Fatalf("list after delete: %d %v", p.Count, p.ids())
	}
	if p := utList(t, e, utUsers+"?isActive=true", e.AdminToken); p.Count != 2 {
		t.Fatalf("active count after delete = %d, want 2", p.Count)
	}

	// The name is free again, but the id stays dead.
	n := utExpect(t, e.do("POST", utUsers, e.AdminToken, map[string]any{"username": "GONE", "email": "gone@example.com"}), http.StatusCreated).JSON(t)
	if id := int64(n["id"].(float64)); id <= gone.ID {
		t.Fatalf("new user got id %d, deleted one had %d", id, gone.ID)
	}
	utExpect(t, e.do("GET", utPath(gone.ID), e.AdminToken, nil), http.StatusNotFound)
	utUnauthorized(t, e.do("GET", utUsers+"/me", goneTok, nil))
}

func TestUserLastActiveAdmin(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserLastActiveAdmin)
}

func testUserLastActiveAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const lastAdmin = "This change would leave no active admin."
	get := func(token string, id int64) map[string]any {
		t.Helper()
		return utExpect(t, e.do("GET", utPath(id), token, nil), http.StatusOK).JSON(t)
	}
	blocked := func(who string, token string, id int64) {
		t.Helper()
		before := get(token, id)
		for _, r := range []*resp{
			e.do("DELETE", utPath(id), token, nil),
			e.do("PATCH", utPath(id), token, map[string]any{"isAdmin": false}),
			e.do("PATCH", utPath(id), token, map[string]any{"isActive": false}),
			e.do("PATCH", utPath(id), token, map[string]any{"isActive": false, "isAdmin": false}),
			e.do("PUT", utPath(id), token, map[string]any{"username": before["username"], "email": before["email"],
				"firstName": "", "lastName": "", "isActive": false}),
		} {
			if d := utDetail(t, utExpect(t, r, http.StatusConflict)); d != lastAdmin {
				t.Fatalf("%s: detail %q", who, d)
			}
		}
		if after := get(token, id); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: profile changed:\n got %v\nwant %v", who, after, before)
		}
	}
	blocked("sole admin", e.AdminToken, e.Admin.ID)

	// An inactive admin does not count.
	utCreate(t, e, "ghost", func(u *roster.User) { u.IsAdmin, u.IsActive = true, false })
	blocked("with an inactive admin", e.AdminToken, e.Admin.ID)

	// With two active admins, one may go.
	root2 := e.createUser("root2", true, "")
	root2Tok := e.token(root2)
	utExpect(t, e.do("PATCH", utPath(e.Admin.ID), e.AdminToken, map[string]any{"isAdmin": false}), http.StatusOK)
	if utGet(t, e, e.Admin.ID)["isAdmin"] != false {
		t.Fatal("demotion did not land")
	}
	blocked("root2 alone", root2Tok, root2.ID)
	utExpect(t, e.do("PATCH", utPath(e.Admin.ID), root2Tok, map[string]any{"isAdmin": true}), http.StatusOK)

	// deactivate one of two
	utExpect(t, e.do("PATCH", utPath(root2.ID), e.AdminToken, map[string]any{"isActive": false}), http.StatusOK)
	utUnauthorized(t, e.do("GET", utUsers+"/me", root2Tok, nil))
	blocked("admin again alone", e.AdminToken, e.Admin.ID)

	// delete one of two
	root3 := e.createUser("root3", true, "")
	root3Tok := e.token(root3)
	utExpect(t, e.do("DELETE", utPath(e.Admin.ID), root3Tok, nil), http.StatusNoContent)
	utUnauthorized(t, e.do("GET", utUsers+"/me", e.AdminToken, nil))
	blocked("root3 alone", root3Tok, root3.ID)
}

func TestUserDeactivatedToken(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserDeactivatedToken)
}

func testUserDeactivatedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.createUser("dee", false, "")
	tok := e.token(d)
	utExpect(t, e.do("GET", utUsers, tok, nil), http.StatusOK)
	p := utExpect(t, e.do("PATCH", utPath(d.ID), e.AdminToken, map[string]any{"isActive": false}), http.StatusOK).JSON(t)
	if p["isActive"] != false {
		t.Fatalf("answered %v", p)
	}
	for _, path := range []string{utUsers + "/me", utUsers, utPath(d.ID)} {
		utUnauthorized(t, e.do("GET", path, tok, nil))
	}
	utUnauthorized(t, e.do("PATCH", utPath(d.ID), tok, map[string]any{"bio": "x"}))
	if g := utGet(t, e, d.ID); g["isActive"] != false || g["bio"] != "" {
		t.Fatalf("deactivated user = %v", g)
	}
}

// ---------------------------------------------------------------- methods

func TestUserMethodNotAllowed(t *testing.T) {
	t.Parallel()
	eachStore(t, testUserMethodNotAllowed)
}

func testUserMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		method, path string
		allow        []string
	}{
		{"POST", utUsers + "/1", []string{"GET", "PUT", "PATCH", "DELETE"}},
		{"DELETE", utUsers, []string{"GET", "POST"}},
		{"PUT", utUsers, []string{"GET", "POST"}},
		{"PATCH", utUsers, []string{"GET", "POST"}},
	}
	for _, tc := range cases {
		for _, tok := range []string{e.AdminToken, ""} {
			r := utExpect(t, e.do(tc.method, tc.path, tok, map[string]any{}), http.StatusMethodNotAllowed)
			allow := r.Header.Get("Allow")
			for _, m := range tc.allow {
				if !strings.Contains(allow, m) {
					t.Fatalf("%s %s: Allow = %q, lacks %s", tc.method, tc.path, allow, m)
				}
			}
		}
	}
}
