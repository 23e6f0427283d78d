package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rosterhq/roster/postgres/pgtest"
)

// tokenCall sends one request to url with token and returns the status,
// the WWW-Authenticate header and the decoded JSON object (if any).
func tokenCall(t *testing.T, method, url, token string, body any) (int, string, map[string]any) {
	t.Helper()
	var rd bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd.Reset(b)
	}
	req, _ := http.NewRequest(method, url, &rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, res.Header.Get("WWW-Authenticate"), out
}

// checkScoped asserts that token reads /users/me and is refused
// /workspaces for want of workspaces:read, on the server at url.
func checkScoped(t *testing.T, url, token string) {
	t.Helper()
	if status, _, _ := tokenCall(t, "GET", url+"/api/v3/users/me", token, nil); status != http.StatusOK {
		t.Errorf("%s: GET /users/me with users:read = %d, want 200", url, status)
	}
	status, challenge, _ := tokenCall(t, "GET", url+"/api/v3/workspaces", token, nil)
	if status != http.StatusForbidden || challenge != `Bearer error="insufficient_scope", scope="workspaces:read"` {
		t.Errorf("%s: GET /workspaces without workspaces:read = %d %q, want 403 insufficient_scope", url, status, challenge)
	}
}

// tokenByName returns the token named name from the caller's list.
func tokenByName(t *testing.T, url, session, name string) map[string]any {
	t.Helper()
	status, _, page := tokenCall(t, "GET", url+"/api/v3/tokens", session, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /tokens = %d", status)
	}
	for _, it := range page["results"].([]any) {
		if tok := it.(map[string]any); tok["name"] == name {
			return tok
		}
	}
	t.Fatalf("no token %q in %v", name, page)
	return nil
}

// testTokensAcrossInstances: a scoped token made through one instance is
// held to its scopes by every instance and after a restart; its lastUsedAt
// reaches the database when an instance shuts down; a revocation through
// one instance reaches the others within the session cache's TTL.
func testTokensAcrossInstances(t *testing.T, db string, instances int) {
	const pw = "token-instances-secret"
	env := map[string]string{"ROSTER_ADMIN_PASSWORD": pw}
	var inst []*server
	for range instances {
		inst = append(inst, startServe(t, env, "--db", db))
	}
	last := inst[len(inst)-1]
	admin := mustLogin(t, inst[0].URL, "admin", pw)
	status, _, made := tokenCall(t, "POST", inst[0].URL+"/api/v3/tokens", admin, map[string]any{"name": "reader", "scopes": []string{"users:read"}})
	if status != http.StatusCreated {
		t.Fatalf("POST /tokens = %d %v", status, made)
	}
	reader := made["token"].(string)
	_, _, other := tokenCall(t, "POST", inst[0].URL+"/api/v3/tokens", admin, map[string]any{"name": "other", "scopes": []string{"users:read"}})
	for _, s := range inst {
		checkScoped(t, s.URL, reader)
	}

	// The use through the last instance is written when it stops, and a
	// restart keeps the scopes.
	if err := last.stop(t); err != nil {
		t.Fatal(err)
	}
	restarted := startServe(t, env, "--db", db)
	if tok := tokenByName(t, restarted.URL, admin, "reader"); tok["lastUsedAt"] == nil {
		t.Errorf("lastUsedAt of a token used through a stopped instance is null: %v", tok)
	}
	checkScoped(t, restarted.URL, reader)

	// A revocation through one instance reaches the other (or, with one
	// instance, applies at once); the other token lives on.
	peer := restarted
	if instances > 1 {
		peer = inst[0]
	}
	if status, _, _ := tokenCall(t, "DELETE", restarted.URL+"/api/v3/tokens/"+strconv.Itoa(int(made["id"].(float64))), admin, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE /tokens/{id} = %d", status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _, _ := tokenCall(t, "GET", peer.URL+"/api/v3/users/me", reader, nil)
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a revoked token still answers %d after 5 s", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkScoped(t, peer.URL, other["token"].(string))
}

func TestTokensSurviveRestartSQLite(t *testing.T) {
	testTokensAcrossInstances(t, filepath.Join(t.TempDir(), "roster.db"), 1)
}

func TestTokensAcrossTwoInstancesPostgres(t *testing.T) {
	testTokensAcrossInstances(t, pgtest.URL(t), 2)
}
