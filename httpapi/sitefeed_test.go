package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// sfPage decodes a page envelope whose results carry ids (and names).
type sfPage struct {
	Count   int `json:"count"`
	Results []struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Verb  string `json:"verb"`
		Actor struct {
			ID int64 `json:"id"`
		} `json:"actor"`
	} `json:"results"`
}

func sfGet(t *testing.T, e *env, path, token string) sfPage {
	t.Helper()
	var p sfPage
	if err := json.Unmarshal(utExpect(t, e.do("GET", path, token, nil), http.StatusOK).Body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func sfNames(p sfPage) string {
	var names []string
	for _, r := range p.Results {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

// TestGroupAndWorkspaceListSearch: GET /groups and /workspaces take q (a
// substring of the name, any case; a workspace's slug too), keep the
// caller's access, and count the whole result.
func TestGroupAndWorkspaceListSearch(t *testing.T) {
	eachStore(t, testGroupAndWorkspaceListSearch)
}

func testGroupAndWorkspaceListSearch(t *testing.T) {
	e := newEnv(t)
	jane := e.createUser("jane", false, "janepass1")
	janeTok := e.token(jane)
	for _, n := range []string{"Design", "DevOps", "Sales"} {
		utExpect(t, e.do("POST", "/api/v3/groups", e.AdminToken, map[string]any{"name": n}), http.StatusCreated)
	}
	ids := map[string]float64{}
	for _, n := range []string{"Marketing", "Ops Team", "Market research"} {
		ids[n] = utExpect(t, e.do("POST", "/api/v3/workspaces", e.AdminToken, map[string]any{"name": n}), http.StatusCreated).JSON(t)["id"].(float64)
	}
	utExpect(t, e.do("PUT", fmt.Sprintf("/api/v3/workspaces/%d/permissions/users/%d", int64(ids["Marketing"]), jane.ID),
		e.AdminToken, map[string]any{"role": "viewer"}), http.StatusOK)

	for _, c := range []struct{ path, token, want string }{
		{"/api/v3/groups?q=de", janeTok, "Design,DevOps"},
		{"/api/v3/groups?q=%20SALES%20", e.AdminToken, "Sales"},
		{"/api/v3/groups?q=", e.AdminToken, "Design,DevOps,Sales"},
		{"/api/v3/groups?q=%25", e.AdminToken, ""},
		{"/api/v3/workspaces?q=market", e.AdminToken, "Marketing,Market research"},
		{"/api/v3/workspaces?q=market", janeTok, "Marketing"},
		{"/api/v3/workspaces?q=ops-team", e.AdminToken, "Ops Team"},
		{"/api/v3/workspaces?q=research", janeTok, ""},
	} {
		p := sfGet(t, e, c.path, c.token)
		if got := sfNames(p); got != c.want || p.Count != len(p.Results) {
			t.Errorf("GET %s: %q (count %d), want %q", c.path, got, p.Count, c.want)
		}
	}
	p := sfGet(t, e, "/api/v3/groups?q=e&page_size=1&page=2", e.AdminToken)
	if sfNames(p) != "DevOps" || p.Count != 3 {
		t.Errorf("groups q=e page 2 of 1: %q (count %d), want DevOps of 3", sfNames(p), p.Count)
	}
	long := url.QueryEscape(strings.Repeat("x", 257))
	for _, path := range []string{"/api/v3/groups?q=" + long, "/api/v3/workspaces?q=" + long} {
		utWantErrors(t, utExpect(t, e.do("GET", path, e.AdminToken, nil), http.StatusBadRequest), map[string]string{"q": ""})
	}
}

// TestSiteActivityFeed: GET /activities lists every activity to an admin
// (the audit log) and only visible ones to anyone else, with the feed
// filters and actor.
func TestSiteActivityFeed(t *testing.T) { eachStore(t, testSiteActivityFeed) }

func testSiteActivityFeed(t *testing.T) {
	e := newEnv(t)
	jane, bob := e.createUser("jane", false, "janepass1"), e.createUser("bob", false, "bobpass12")
	janeTok, bobTok := e.token(jane), e.token(bob)
	ws := int64(utExpect(t, e.do("POST", "/api/v3/workspaces", e.AdminToken, map[string]any{"name": "Shared"}), http.StatusCreated).JSON(t)["id"].(float64))
	for _, u := range []int64{jane.ID, bob.ID} {
		utExpect(t, e.do("PUT", fmt.Sprintf("/api/v3/workspaces/%d/permissions/users/%d", ws, u), e.AdminToken,
			map[string]any{"role": "member"}), http.StatusOK)
	}
	post := func(tok, verb string, workspace any) {
		utExpect(t, e.do("POST", "/api/v3/activities", tok, map[string]any{"verb": verb, "workspace": workspace}), http.StatusCreated)
	}
	post(janeTok, "document.created", ws)
	post(janeTok, "note.private", nil)
	post(bobTok, "document.updated", ws)
	post(bobTok, "note.private", nil)

	all := sfGet(t, e, "/api/v3/activities?page_size=1000", e.AdminToken)
	verbs := map[string]int{}
	for _, a := range all.Results {
		verbs[a.Verb]++
	}
	if all.Count != len(all.Results) || verbs["workspace.created"] != 1 || verbs["workspace.permission_granted"] != 2 ||
		verbs["note.private"] != 2 || verbs["document.created"] != 1 {
		t.Errorf("admin's site feed: count %d, verbs %v", all.Count, verbs)
	}
	for i := 1; i < len(all.Results); i++ {
		if all.Results[i].ID >= all.Results[i-1].ID {
			t.Fatalf("site feed not newest first: %d after %d", all.Results[i].ID, all.Results[i-1].ID)
		}
	}
	// Jane sees her own activities and those in the shared workspace, not
	// Bob's private note nor the admin's grants outside her workspaces.
	mine := sfGet(t, e, "/api/v3/activities?page_size=1000", janeTok)
	for _, a := range mine.Results {
		if a.Actor.ID == bob.ID && a.Verb == "note.private" {
			t.Errorf("jane sees bob's private note")
		}
	}
	if n := sfGet(t, e, "/api/v3/activities?verb=note.*", janeTok).Count; n != 1 {
		t.Errorf("jane's note.* count = %d, want 1", n)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{fmt.Sprintf("actor=%d", bob.ID), 3}, // his token came from a login (auth.login) and two posts
		{fmt.Sprintf("actor=%d&workspace=%d", bob.ID, ws), 1},
		{"verb=document.*", 2},
		{fmt.Sprintf("workspace=%d", ws), 5}, // created, two grants, two documents
		{"actor=999999", 0},
		{"since=2999-01-01T00:00:00Z", 0},
	} {
		if n := sfGet(t, e, "/api/v3/activities?"+c.query, e.AdminToken).Count; n != c.want {
			t.Errorf("admin ?%s: count %d, want %d", c.query, n, c.want)
		}
	}
	for _, bad := range []string{"actor=0", "actor=x", "verb=Bad", "since=yesterday", "before=-1"} {
		utExpect(t, e.do("GET", "/api/v3/activities?"+bad, e.AdminToken, nil), http.StatusBadRequest)
	}
	utExpect(t, e.do("GET", "/api/v3/activities?page=99", e.AdminToken, nil), http.StatusNotFound)
	utExpect(t, e.do("GET", "/api/v3/activities", "", nil), http.StatusUnauthorized)
}
