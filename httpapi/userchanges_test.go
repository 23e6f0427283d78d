package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

type deltaSummary struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	IsActive  bool   `json:"isActive"`
}

type deltaAnswer struct {
	Changes []struct {
		Op   string        `json:"op"`
		User *deltaSummary `json:"user"`
		ID   int64         `json:"id"`
	} `json:"changes"`
	Cursor  string `json:"cursor"`
	HasMore bool   `json:"hasMore"`
}

// mirror is a client's copy of the directory built from the delta feed.
type mirror struct {
	users  map[int64]deltaSummary
	cursor string
}

// changes reads one answer of the feed after m's cursor.
func (e *env) changes(t *testing.T, cursor string, limit int) deltaAnswer {
	t.Helper()
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	r := e.do("GET", "/api/v3/users/changes?"+q.Encode(), e.AdminToken, nil).expect(t, http.StatusOK)
	var a deltaAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
	if a.Cursor == "" || a.Changes == nil {
		t.Fatalf("answer without cursor or changes: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"changes":[`) {
		t.Fatalf("changes is not an array: %s", r.Body)
	}
	if limit > 0 && len(a.Changes) > limit {
		t.Fatalf("%d changes for limit %d", len(a.Changes), limit)
	}
	seen := map[int64]bool{}
	for _, c := range a.Changes {
		id := c.ID
		switch c.Op {
		case "upsert":
			if c.User == nil || c.ID != 0 {
				t.Fatalf("bad upsert: %s", r.Body)
			}
			id = c.User.ID
		case "delete":
			if c.User != nil || c.ID <= 0 {
				t.Fatalf("bad delete: %s", r.Body)
			}
		default:
			t.Fatalf("op %q: %s", c.Op, r.Body)
		}
		if seen[id] {
			t.Fatalf("user %d twice in one answer: %s", id, r.Body)
		}
		seen[id] = true
	}
	return a
}

// sync applies answers until hasMore is false, with random limits.
func (m *mirror) sync(t *testing.T, e *env, rng *rand.Rand) {
	t.Helper()
	for {
		a := e.changes(t, m.cursor, 1+rng.IntN(7))
		for _, c := range a.Changes {
			if c.Op == "upsert" {
				m.users[c.User.ID] = *c.User
			} else {
				delete(m.users, c.ID)
			}
		}
		m.cursor = a.Cursor
		if !a.HasMore {
			return
		}
	}
}

// allUsers reads every page of GET /api/v3/users.
func (e *env) allUsers(t *testing.T) []deltaSummary {
	t.Helper()
	var out []deltaSummary
	for page := 1; ; page++ {
		r := e.do("GET", fmt.Sprintf("/api/v3/users?page=%d&page_size=7", page), e.AdminToken, nil).expect(t, http.StatusOK)
		var p struct {
			Next    *string        `json:"next"`
			Results []deltaSummary `json:"results"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Results...)
		if p.Next == nil {
			return out
		}
	}
}

func (m *mirror) check(t *testing.T, e *env) {
	t.Helper()
	want := e.allUsers(t)
	got := make([]deltaSummary, 0, len(m.users))
	for _, id := range sortedKeys(m.users) {
		got = append(got, m.users[id])
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mirror differs from GET /users:\n got %+v\nwant %+v", got, want)
	}
}

func sortedKeys(m map[int64]deltaSummary) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// TestUserChangesMirror applies every answer of the delta feed, read at
// random moments with random limits, during a random mix of creates,
// updates (summary and other fields) and deletes, and holds the copy to
// GET /api/v3/users exactly.
func TestUserChangesMirror(t *testing.T) {
	eachStore(t, testUserChangesMirror)
}

func testUserChangesMirror(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(14, 2026))
	m := &mirror{users: map[int64]deltaSummary{}}
	m.sync(t, e, rng)
	m.check(t, e)
	var live []int64
	for i := range 160 {
		switch op := rng.IntN(10); {
		case op < 4 || len(live) == 0:
			r := e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": fmt.Sprintf("u%d", i),
				"email": fmt.Sprintf("u%d@example.com", i), "firstName": fmt.Sprintf("F%d", rng.IntN(100))}).expect(t, http.StatusCreated)
			live = append(live, int64(r.JSON(t)["id"].(float64)))
		case op < 8:
			id := live[rng.IntN(len(live))]
			patch := map[string]any{}
			switch rng.IntN(4) {
			case 0:
				patch["lastName"] = fmt.Sprintf("L%d", i)
			case 1:
				patch["isActive"] = rng.IntN(2) == 0
			case 2:
				patch["bio"] = fmt.Sprintf("bio %d", i) // not in the summary: no change
			default:
				patch["username"], patch["email"] = fmt.Sprintf("r%d", i), fmt.Sprintf("r%d@example.com", i)
			}
			e.do("PATCH", fmt.Sprintf("/api/v3/users/%d", id), e.AdminToken, patch).expect(t, http.StatusOK)
		default:
			k := rng.IntN(len(live))
			e.do("DELETE", fmt.Sprintf("/api/v3/users/%d", live[k]), e.AdminToken, nil).expect(t, http.StatusNoContent)
			live = append(live[:k], live[k+1:]...)
		}
		if rng.IntN(8) == 0 {
			m.sync(t, e, rng)
			m.check(t, e)
		}
	}
	m.sync(t, e, rng)
	m.check(t, e)

	// A fresh client's first pass is a full copy without tombstones.
	fresh := &mirror{users: map[int64]deltaSummary{}}
	for {
		a := e.changes(t, fresh.cursor, 0)
		for _, c := range a.Changes {
			if c.Op == "upsert" {
				fresh.users[c.User.ID] = *c.User
			} else if _, ok := fresh.users[c.ID]; ok {
				t.Fatalf("delete of user %d after its upsert in a first pass", c.ID)
			}
		}
		fresh.cursor = a.Cursor
		if !a.HasMore {
			break
		}
	}
	fresh.check(t, e)

	// Changes outside the summary, and activities, are no changes.
	e.do("PATCH", fmt.Sprintf("/api/v3/users/%d", e.Admin.ID), e.AdminToken, map[string]any{"bio": "quiet"}).expect(t, http.StatusOK)
	e.do("POST", "/api/v3/activities", e.AdminToken, map[string]any{"verb": "document.created"}).expect(t, http.StatusCreated)
	if a := e.changes(t, m.cursor, 0); len(a.Changes) != 0 || a.HasMore || a.Cursor != m.cursor {
		t.Fatalf("changes after non-summary writes: %+v (cursor was %s)", a, m.cursor)
	}
}

// TestUserChangesLatestStateOnce checks that a user changed many times
// since the cursor appears once, with its state now, at its last change.
func TestUserChangesLatestStateOnce(t *testing.T) {
	eachStore(t, testUserChangesLatestStateOnce)
}

func testUserChangesLatestStateOnce(t *testing.T) {
	e := newEnv(t)
	start := e.changes(t, "", 0).Cursor
	a := e.createUser("ann", false, "")
	b := e.createUser("bob", false, "")
	for i := range 3 {
		e.do("PATCH", fmt.Sprintf("/api/v3/users/%d", a.ID), e.AdminToken, map[string]any{"firstName": fmt.Sprint("Ann", i)}).expect(t, http.StatusOK)
	}
	e.do("DELETE", fmt.Sprintf("/api/v3/users/%d", b.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	got := e.changes(t, start, 0)
	if len(got.Changes) != 2 || got.HasMore {
		t.Fatalf("changes = %+v", got)
	}
	// ann's last change came before bob's deletion.
	if c := got.Changes[0]; c.Op != "upsert" || c.User.ID != a.ID || c.User.FirstName != "Ann2" || c.User.Username != "ann" {
		t.Fatalf("first change = %+v", c)
	}
	if c := got.Changes[1]; c.Op != "delete" || c.ID != b.ID {
		t.Fatalf("second change = %+v, want delete of %d", c, b.ID)
	}
	// Page through with limit 1: same two, hasMore on the first.
	one := e.changes(t, start, 1)
	if len(one.Changes) != 1 || !one.HasMore || one.Changes[0].User.ID != a.ID {
		t.Fatalf("limit 1: %+v", one)
	}
	two := e.changes(t, one.Cursor, 1)
	if len(two.Changes) != 1 || two.HasMore || two.Changes[0].ID != b.ID || two.Cursor != got.Cursor {
		t.Fatalf("limit 1, second: %+v (want cursor %s)", two, got.Cursor)
	}
}

func TestUserChangesBadInput(t *testing.T) {
	eachStore(t, testUserChangesBadInput)
}

func testUserChangesBadInput(t *testing.T) {
	e := newEnv(t)
	good := e.changes(t, "", 0).Cursor
	raw, err := base64.RawURLEncoding.DecodeString(good)
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", good, err)
	}
	tampered := base64.RawURLEncoding.EncodeToString(append(raw, 'x'))
	for _, q := range []string{"cursor=!!!", "cursor=" + tampered, "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("c1.abc.-1")),
		"cursor=" + good + "=", "limit=0", "limit=-3", "limit=ten", "limit=1.5", "limit="} {
		r := e.do("GET", "/api/v3/users/changes?"+q, e.AdminToken, nil).expect(t, http.StatusBadRequest)
		if p := r.JSON(t); p["errors"] == nil {
			t.Errorf("%s: no field errors: %s", q, r.Body)
		}
	}
	// A large limit is clamped, not refused.
	e.do("GET", "/api/v3/users/changes?limit=100000", e.AdminToken, nil).expect(t, http.StatusOK)
	// Any user reads it; no token is 401.
	u := e.createUser("reader", false, "")
	e.do("GET", "/api/v3/users/changes", e.token(u), nil).expect(t, http.StatusOK)
	r := e.do("GET", "/api/v3/users/changes", "", nil).expect(t, http.StatusUnauthorized)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

// TestUserChangesGone: a cursor from before a pruned deletion, or from
// another installation, is 410; starting over works.
func TestUserChangesGone(t *testing.T) {
	eachStore(t, testUserChangesGone)
}

func testUserChangesGone(t *testing.T) {
	e := newEnv(t)
	clock := installClock(e)
	ctx := context.Background()
	old := e.changes(t, "", 0).Cursor
	x := e.createUser("x", false, "")
	e.do("DELETE", fmt.Sprintf("/api/v3/users/%d", x.ID), e.AdminToken, nil).expect(t, http.StatusNoContent)
	after := e.changes(t, old, 0)
	if len(after.Changes) != 1 || after.Changes[0].Op != "delete" || after.Changes[0].ID != x.ID {
		t.Fatalf("changes = %+v", after)
	}
	// The first prune stamps the tombstone; 29 days later it is still kept.
	if err := e.db.PruneUserChanges(ctx, roster.UserChangesKeep); err != nil {
		t.Fatal(err)
	}
	clock.Advance(29 * 24 * time.Hour)
	if err := e.db.PruneUserChanges(ctx, roster.UserChangesKeep); err != nil {
		t.Fatal(err)
	}
	clock.Advance(-29 * 24 * time.Hour) // tokens are checked against this clock
	e.changes(t, old, 0)
	clock.Advance(31 * 24 * time.Hour)
	if err := e.db.PruneUserChanges(ctx, roster.UserChangesKeep); err != nil {
		t.Fatal(err)
	}
	clock.Advance(-31 * 24 * time.Hour)
	e.do("GET", "/api/v3/users/changes?cursor="+old, e.AdminToken, nil).expect(t, http.StatusGone)
	// The cursor given after the deletion is still good, and a new pass works.
	if a := e.changes(t, after.Cursor, 0); len(a.Changes) != 0 {
		t.Fatalf("after the pruned tombstone: %+v", a)
	}
	m := &mirror{users: map[int64]deltaSummary{}}
	m.sync(t, e, rand.New(rand.NewPCG(1, 2)))
	m.check(t, e)
	// Another installation's cursor, and one from this installation's future.
	raw, _ := base64.RawURLEncoding.DecodeString(after.Cursor)
	parts := strings.Split(string(raw), ".")
	other := base64.RawURLEncoding.EncodeToString([]byte("c1.0123456789abcdef." + parts[2]))
	e.do("GET", "/api/v3/users/changes?cursor="+other, e.AdminToken, nil).expect(t, http.StatusGone)
	future := base64.RawURLEncoding.EncodeToString([]byte("c1." + parts[1] + ".999999"))
	e.do("GET", "/api/v3/users/changes?cursor="+future, e.AdminToken, nil).expect(t, http.StatusGone)
}
