package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/sqlite"
)

// TestSeed seeds a small database through the command and checks what it
// wrote: counts, consecutive ids from 1, every lastActiveAt set, seeded
// users found by search, and the count of the HTTP list.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "seed.db")
	var stdout, stderr syncBuffer
	err := run(ctx, []string{"seed", "--db", path, "--users", "500", "--groups", "7", "--workspaces", "4", "--activities", "2000"},
		getenv(nil), strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("seed: %v (stderr %s)", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "rows/s") || !strings.Contains(stderr.String(), "seeding [") {
		t.Errorf("stdout %q, stderr %q: want a final line with rows/s and a progress bar", stdout.String(), stderr.String())
	}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := db.ReadDB()
	var n, minID, maxID, noActive, withHash int
	if err := r.QueryRow(`SELECT count(*), min(id), max(id), sum(last_active_at IS NULL), sum(password_hash <> '') FROM users`).
		Scan(&n, &minID, &maxID, &noActive, &withHash); err != nil {
		t.Fatal(err)
	}
	if n != 500 || minID != 1 || maxID != 500 || noActive != 0 || withHash != 0 {
		t.Errorf("users: count %d, ids %d-%d, %d without lastActiveAt, %d with a password; want 500, 1-500, 0, 0",
			n, minID, maxID, noActive, withHash)
	}
	for table, want := range map[string]int{"groups": 7, "workspaces": 4, "activities": 2000} {
		if err := r.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	var members, counted, grants, badWS int
	r.QueryRow(`SELECT (SELECT count(*) FROM group_members), (SELECT sum(member_count) FROM groups),
		(SELECT count(*) FROM workspace_user_grants) + (SELECT count(*) FROM workspace_group_grants)`).Scan(&members, &counted, &grants)
	if members == 0 || members != counted || grants == 0 {
		t.Errorf("group_members %d, sum(member_count) %d, grants %d", members, counted, grants)
	}
	// Every activity in a workspace is in one its actor can access.
	r.QueryRow(`SELECT count(*) FROM activities a WHERE a.workspace_id IS NOT NULL AND a.workspace_id NOT IN (
		SELECT workspace_id FROM workspace_user_grants WHERE user_id = a.actor_id
		UNION SELECT gg.workspace_id FROM workspace_group_grants gg JOIN group_members gm ON gm.group_id = gg.group_id
		WHERE gm.user_id = a.actor_id)`).Scan(&badWS)
	if badWS != 0 {
		t.Errorf("%d activities in a workspace their actor cannot access", badWS)
	}
	var mismatched int
	r.QueryRow(`SELECT count(*) FROM users u WHERE u.last_active_at <> (SELECT max(published) FROM activities WHERE actor_id = u.id)`).Scan(&mismatched)
	if mismatched != 0 {
		t.Errorf("%d users whose lastActiveAt is not their newest activity", mismatched)
	}

	// Search finds a seeded user by part of its (Unicode) last name and
	// part of its username, through the rebuilt trigram index.
	u, err := db.FindUserByID(ctx, 321)
	if err != nil {
		t.Fatal(err)
	}
	if u.LastActiveAt == nil {
		t.Error("user 321 has no lastActiveAt")
	}
	q := []rune(roster.Fold(u.Username))
	query := string(q[len(q)-5:]) // ends with the unique number
	found, total, err := db.SearchUsers(ctx, roster.UserSearch{Terms: roster.SearchTerms(query), Query: roster.Fold(query), Page: roster.Page{Limit: 50}})
	if err != nil || total == 0 || !containsUser(found, u.ID) {
		t.Errorf("search %q: total %d, err %v; want user %d among them", query, total, err, u.ID)
	}
	found, _, err = db.SearchUsers(ctx, roster.UserSearch{Terms: roster.SearchTerms(u.LastName + " " + query), Query: roster.Fold(u.LastName + " " + query), Page: roster.Page{Limit: 50}})
	if err != nil || !containsUser(found, u.ID) {
		t.Errorf("search %q %q: err %v; want user %d", u.LastName, query, err, u.ID)
	}

	// The HTTP list reports every user.
	var active int64
	if err := r.QueryRow("SELECT min(id) FROM users WHERE is_active").Scan(&active); err != nil {
		t.Fatal(err)
	}
	secret, hash := roster.NewTokenSecret()
	if err := db.CreateToken(ctx, &roster.Token{UserID: active, Hash: hash, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	srv, err := rostertest.New(ctx, db, rostertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v3/users?page_size=3", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Count   int `json:"count"`
		Results []struct {
			ID int64 `json:"id"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: status %d, %v", resp.StatusCode, err)
	}
	if list.Count != 500 || len(list.Results) != 3 || list.Results[0].ID != 1 {
		t.Errorf("list: count %d, results %v; want 500 users from id 1", list.Count, list.Results)
	}
}

func containsUser(list []*roster.User, id int64) bool {
	for _, u := range list {
		if u.ID == id {
			return true
		}
	}
	return false
}
