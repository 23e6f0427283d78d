package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to inspect the copy
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlite"
)

// copiedTables are the tables migrate-data copies, with their key columns.
var copiedTables = map[string]string{
	"users": "id", "tokens": "id", "login_throttle": "key", "groups": "id", "group_members": "group_id, user_id",
	"workspaces": "id", "workspace_user_grants": "workspace_id, user_id", "workspace_group_grants": "workspace_id, group_id",
	"activities": "id", "auth_providers": "name", "user_identities": "provider, subject",
}

// populated is what populateSQLite stored.
type populated struct {
	adminToken        string
	alice, carol, eng int64
	apollo            int64
	maxUserID         int64 // a deleted user's: the highest id SQLite ever gave
	maxActivityID     int64
}

// populateSQLite fills a new SQLite database through the store: users (two
// deleted, the last-created among them, so ids have gaps and the highest id
// is dead), a password, tokens, a login failure, groups with members,
// workspaces (one deleted) with user and group grants, and activities,
// some by actors deleted since.
func populateSQLite(t *testing.T, path string) populated {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hash, err := password.NewHasher(1).Hash(ctx, "alice-secret-1")
	must(err)
	user := func(name, first, last string, admin bool, hash string) int64 {
		u := &roster.User{Username: name, Email: strings.ToLower(name) + "@example.com", FirstName: first, LastName: last,
			IsActive: true, IsAdmin: admin, Timezone: "UTC", Locale: "en"}
		must(db.CreateUser(ctx, 1, u, hash))
		return u.ID
	}
	var p populated
	admin := user("admin", "", "", true, "")
	p.alice = user("alice", "Alice", "Ångström", false, hash)
	bob := user("bob", "Bob", "Straße", false, "")
	dave := user("dave", "Dave", "Gone", false, "")
	p.carol = user("carol", "Zoë", "Ärger", false, "")
	zed := user("zed", "Zed", "Last", false, "")
	secret, th := roster.NewTokenSecret()
	must(db.CreateToken(ctx, &roster.Token{UserID: admin, Hash: th, ExpiresAt: time.Now().Add(time.Hour)}))
	p.adminToken = secret
	_, th = roster.NewTokenSecret()
	must(db.CreateToken(ctx, &roster.Token{UserID: p.alice, Hash: th, ExpiresAt: time.Now().Add(time.Hour)}))
	_, err = db.RecordLoginFailure(ctx, "login:nobody")
	must(err)

	eng, ops := &roster.Group{Name: "Engineering"}, &roster.Group{Name: "Ops"}
	must(db.CreateGroup(ctx, admin, eng))
	must(db.CreateGroup(ctx, admin, ops))
	p.eng = eng.ID
	for _, u := range []int64{p.alice, bob, dave} {
		must(db.AddGroupMember(ctx, admin, eng.ID, u))
	}
	must(db.AddGroupMember(ctx, admin, ops.ID, p.carol))
	apollo, gone, zephyr := &roster.Workspace{Name: "Apollo", Slug: "apollo"}, &roster.Workspace{Name: "Gone", Slug: "gone"},
		&roster.Workspace{Name: "Zephyr", Slug: "zephyr"}
	for _, w := range []*roster.Workspace{apollo, gone, zephyr} {
		must(db.CreateWorkspace(ctx, admin, w))
	}
	p.apollo = apollo.ID
	must(db.SetGrant(ctx, admin, apollo.ID, &roster.Grant{Subject: roster.Subject{Type: "user", ID: p.alice}, Role: roster.RoleMember}))
	must(db.SetGrant(ctx, admin, apollo.ID, &roster.Grant{Subject: roster.Subject{Type: "group", ID: eng.ID}, Role: roster.RoleViewer}))
	must(db.SetGrant(ctx, admin, zephyr.ID, &roster.Grant{Subject: roster.Subject{Type: "user", ID: p.carol}, Role: roster.RoleAdmin}))
	must(db.SetGrant(ctx, admin, zephyr.ID, &roster.Grant{Subject: roster.Subject{Type: "group", ID: ops.ID}, Role: roster.RoleMember}))
	must(db.DeleteWorkspace(ctx, admin, gone.ID))
	for i, a := range []*roster.Activity{
		{ActorID: p.alice, Verb: "document.created", WorkspaceID: &apollo.ID, Object: &roster.ActivityObject{Type: "document", ID: "d1", Name: "Plan"},
			Data: json.RawMessage(`{"size": 12, "tags": ["a", "b"]}`)},
		{ActorID: dave, Verb: "document.viewed", WorkspaceID: &apollo.ID, Data: json.RawMessage(`{}`)},
		{ActorID: p.carol, Verb: "deploy.finished", WorkspaceID: &zephyr.ID, Data: json.RawMessage(`{"ok":true}`)},
		{ActorID: zed, Verb: "note.added", Data: json.RawMessage(`{"text":"ünïcödé"}`)},
		{ActorID: p.alice, Verb: "document.updated", WorkspaceID: &apollo.ID, Data: json.RawMessage(`{"rev":2}`)},
	} {
		a.Published = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC).Add(time.Duration(i) * time.Minute)
		must(db.CreateActivity(ctx, a))
	}
	corp := &roster.AuthProvider{Name: "corp", DisplayName: "Corp", Issuer: "https://idp.example", ClientID: "roster", ClientSecret: "s",
		Scopes: roster.DefaultProviderScopes, UsernameClaim: roster.DefaultUsernameClaim, LinkByEmail: true, Enabled: true}
	must(db.CreateAuthProvider(ctx, admin, corp))
	_, err = db.SignIn(ctx, corp, &roster.ProviderClaims{Subject: "s-alice", Email: "alice@example.com", EmailVerified: true},
		roster.HashToken("code"), time.Now().Add(time.Minute))
	must(err)
	must(db.DeleteUser(ctx, admin, dave))
	must(db.DeleteUser(ctx, admin, zed)) // the highest user id is now dead
	p.maxUserID = zed
	must(db.ReadDB().QueryRowContext(ctx, "SELECT max(id) FROM activities").Scan(&p.maxActivityID))
	return p
}

// tableRows returns every row of a table as text, ordered by its key.
func tableRows(t *testing.T, db *sql.DB, table, key string) []string {
	t.Helper()
	cols := map[string]string{
		"users":           "id, username, email, first_name, last_name, is_active, is_admin, password_hash, version",
		"tokens":          "id, user_id, hash",
		"groups":          "id, name, member_count",
		"workspaces":      "id, name, slug",
		"activities":      "id, actor_id, verb, object_type, object_id, object_name, workspace_id, data",
		"auth_providers":  "name, display_name, issuer, client_id, client_secret, scopes, link_by_email, enabled",
		"user_identities": "provider, subject, user_id, email",
	}[table]
	if cols == "" {
		cols = "*"
	}
	rows, err := db.Query("SELECT " + cols + " FROM " + table + " ORDER BY " + key)
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			switch x := v.(type) {
			case bool: // SQLite keeps booleans as 0/1
				v = map[bool]int64{false: 0, true: 1}[x]
			case []byte:
				if table != "tokens" {
					v = string(x)
				}
			case time.Time:
				v = x.UTC().Format(time.RFC3339Nano)
			}
			if table == "login_throttle" && names[i] == "locked_until" {
				v = nil // 0 in SQLite, NULL in PostgreSQL: "not locked"
			}
			if us, ok := v.(int64); ok && table == "login_throttle" && names[i] == "updated_at" {
				v = time.UnixMicro(us).UTC().Format(time.RFC3339Nano) // SQLite keeps microseconds
			}
			fmt.Fprintf(&b, "%s=%v;", names[i], v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateDataFromSQLite(t *testing.T) {
	pgURL := pgtest.URL(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "roster.db")
	p := populateSQLite(t, src)
	ctx := context.Background()

	var stdout, stderr strings.Builder
	if err := run(ctx, []string{"migrate-data", "--from", src, "--to", pgURL}, getenv(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("migrate-data: %v\nstderr:\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "copied "+src+" to ") || !strings.Contains(stdout.String(), "row counts verified") {
		t.Fatalf("stdout = %q", stdout.String())
	}
	for _, line := range []string{"users: 4/4 rows", "activities: ", "verified users: 4 rows", "verified group_members: 3 rows",
		"verified workspaces: 2 rows", "verified tokens: 2 rows", "verified login_throttle: 1 rows"} {
		if !strings.Contains(stderr.String(), line) {
			t.Errorf("progress on stderr lacks %q:\n%s", line, stderr.String())
		}
	}

	lite, err := sql.Open("sqlite", "file:"+src+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	checkCopy := func(when string) {
		t.Helper()
		for table, key := range copiedTables {
			a, b := tableRows(t, lite, table, key), tableRows(t, pg, table, key)
			if len(a) == 0 {
				t.Fatalf("%s: the populated SQLite table %s is empty", when, table)
			}
			if !slices.Equal(a, b) {
				t.Errorf("%s: table %s differs\nsqlite:   %v\npostgres: %v", when, table, a, b)
			}
		}
	}
	checkCopy("after the copy")
	var engCount int
	if err := pg.QueryRow("SELECT member_count FROM groups WHERE id = $1", p.eng).Scan(&engCount); err != nil || engCount != 2 {
		t.Errorf("Engineering member_count on PostgreSQL = %d (%v), want 2 (dave was deleted)", engCount, err)
	}

	// A non-empty target is refused without --truncate and left as it was.
	stdout.Reset()
	stderr.Reset()
	err = run(ctx, []string{"migrate-data", "--from", src, "--to", pgURL}, getenv(nil), strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "--truncate") {
		t.Fatalf("second copy without --truncate: err = %v, want a refusal naming --truncate", err)
	}
	checkCopy("after the refused copy")
	// A missing source is refused before anything is touched (and not created).
	missing := filepath.Join(dir, "typo.db")
	err = run(ctx, []string{"migrate-data", "--from", missing, "--to", pgURL, "--truncate"}, getenv(nil), strings.NewReader(""), &stdout, &stderr)
	checkUsageError(t, err)
	if _, serr := os.Stat(missing); !os.IsNotExist(serr) {
		t.Fatalf("migrate-data created the missing source %s", missing)
	}
	checkCopy("after the refused missing source")
	// With --truncate the copy replaces the target.
	if _, err := pg.Exec("INSERT INTO login_throttle (key, failures) VALUES ('login:extra', 1)"); err != nil {
		t.Fatal(err)
	}
	// A count a server stored of the old users must not outlive them, and
	// users_bulk must move on, so that a count made of them before the
	// replacement is not stored after it (sqlstore/searchstore.go).
	if _, err := pg.Exec("INSERT INTO search_counts (query, active, terms, total, prefix) VALUES ('stale', -1, 'stale', 12345, 0)"); err != nil {
		t.Fatal(err)
	}
	// number reads the one integer a query of the target returns.
	number := func(query string) (n int64) {
		t.Helper()
		if err := pg.QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	bulk := func() int64 { return number("SELECT value FROM counters WHERE name = 'users_bulk'") }
	bulkBefore := bulk()
	if err := run(ctx, []string{"migrate-data", "--from", src, "--to", pgURL, "--truncate"}, getenv(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("migrate-data --truncate: %v", err)
	}
	checkCopy("after the copy with --truncate")
	var stale int
	if err := pg.QueryRow("SELECT count(*) FROM search_counts").Scan(&stale); err != nil || stale != 0 {
		t.Errorf("search_counts after --truncate: %d rows (%v), want 0", stale, err)
	}
	if got := bulk(); got != bulkBefore+1 {
		t.Errorf("users_bulk after --truncate = %d, want %d", got, bulkBefore+1)
	}
	// A copy with --truncate stopped partway (here once it reached the
	// activities, the tables before them emptied and copied) leaves the
	// target as it was: one transaction.
	if _, err := pg.Exec("INSERT INTO login_throttle (key, failures) VALUES ('login:kept', 1)"); err != nil {
		t.Fatal(err)
	}
	// The target's users sequence past SQLite's, as if it had users of
	// its own: the stopped copy must not move it back (setval is not
	// undone by a rollback).
	seqAt := func() int64 { return number("SELECT last_value FROM users_id_seq") }
	seqBefore := seqAt()
	if _, err := pg.Exec("SELECT setval('users_id_seq', $1::bigint)", seqBefore+100); err != nil {
		t.Fatal(err)
	}
	stopCtx, stop := context.WithCancel(ctx)
	err = postgres.CopyFromSQLite(stopCtx, lite, pg, postgres.CopyOptions{Truncate: true, BatchRows: 1,
		Progress: writerFunc(func(line []byte) {
			if strings.HasPrefix(string(line), "activities: ") {
				stop()
			}
		})})
	stop()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("copy stopped partway: err = %v, want context.Canceled", err)
	}
	var kept int
	if err := pg.QueryRow("SELECT count(*) FROM login_throttle WHERE key = 'login:kept'").Scan(&kept); err != nil || kept != 1 {
		t.Errorf("login_throttle after a stopped copy: %d rows of the target's own (%v), want 1", kept, err)
	}
	if got := seqAt(); got != seqBefore+100 {
		t.Errorf("users_id_seq after a stopped copy = %d, want %d (left as it was)", got, seqBefore+100)
	}
	if _, err := pg.Exec("DELETE FROM login_throttle WHERE key = 'login:kept'"); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec("SELECT setval('users_id_seq', $1::bigint)", seqBefore); err != nil {
		t.Fatal(err)
	}
	checkCopy("after a copy stopped partway")

	// The HTTP API answers the same on both databases.
	onLite := startServe(t, nil, "--db", src)
	onPG := startServe(t, nil, "--db", pgURL)
	get := func(s *server, path string) (int, string) {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+p.adminToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.ReplaceAll(string(body), s.URL, "BASE") + " etag=" + resp.Header.Get("ETag")
	}
	for _, path := range []string{
		"/api/v3/users", "/api/v3/users?page=2&page_size=2&ordering=-lastName", "/api/v3/users/search?q=ZO%C3%8B",
		"/api/v3/users/search?q=%C3%A5ngstr", "/api/v3/users/search?q=STRASSE", "/api/v3/users/search?q=a",
		fmt.Sprintf("/api/v3/users/%d", p.alice), fmt.Sprintf("/api/v3/users/%d/activities", p.alice),
		fmt.Sprintf("/api/v3/users/%d", p.maxUserID), "/api/v3/groups", fmt.Sprintf("/api/v3/groups/%d/members", p.eng),
		"/api/v3/workspaces", fmt.Sprintf("/api/v3/workspaces/%d/members", p.apollo),
		fmt.Sprintf("/api/v3/workspaces/%d/permissions", p.apollo), fmt.Sprintf("/api/v3/workspaces/%d/activities", p.apollo),
	} {
		ls, lb := get(onLite, path)
		ps, pb := get(onPG, path)
		if ls != ps || lb != pb {
			t.Errorf("GET %s differs:\nsqlite   %d %s\npostgres %d %s", path, ls, lb, ps, pb)
		}
		if ls != http.StatusOK && path != fmt.Sprintf("/api/v3/users/%d", p.maxUserID) {
			t.Errorf("GET %s = %d on SQLite, want 200: %s", path, ls, lb)
		}
	}
	if _, body := get(onPG, "/api/v3/users/search?q=ZO%C3%8B"); !strings.Contains(body, `"username":"carol"`) {
		t.Errorf("search for ZOË on PostgreSQL does not find Zoë: %s", body)
	}

	// Passwords came along, and the sequences moved past every id SQLite
	// ever gave, deleted ones included.
	token := mustLogin(t, onPG.URL, "alice", "alice-secret-1")
	post := func(path string, body string) int64 {
		t.Helper()
		req, _ := http.NewRequest("POST", onPG.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+p.adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ ID int64 }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s on the copy: status %d", path, resp.StatusCode)
		}
		return out.ID
	}
	if id := post("/api/v3/users", `{"username": "newbie", "email": "newbie@example.com"}`); id != p.maxUserID+1 {
		t.Errorf("new user on the copy got id %d, want %d (above deleted id %d)", id, p.maxUserID+1, p.maxUserID)
	}
	if id := post("/api/v3/activities", `{"verb": "copy.checked"}`); id <= p.maxActivityID {
		t.Errorf("new activity on the copy got id %d, not above SQLite's %d", id, p.maxActivityID)
	}
	if id := post("/api/v3/workspaces", `{"name": "After"}`); id != 4 {
		t.Errorf("new workspace on the copy got id %d, want 4 (3 was used and deleted)", id)
	}
	if id := post("/api/v3/groups", `{"name": "After"}`); id != 3 {
		t.Errorf("new group on the copy got id %d, want 3", id)
	}
	if status, _ := me(t, onPG.URL, token); status != http.StatusOK {
		t.Errorf("alice's new token on the copy: /users/me = %d", status)
	}
	var tokenIDs int64
	if err := pg.QueryRow("SELECT count(*) FROM tokens WHERE id <= 2").Scan(&tokenIDs); err != nil || tokenIDs != 2 {
		t.Errorf("copied token ids: %d rows with id <= 2 (%v), want 2; the new login token must come after them", tokenIDs, err)
	}
	if regexp.MustCompile(`"level":"ERROR"`).MatchString(onPG.stderr.String()) {
		t.Errorf("errors logged by serve on the copy:\n%s", onPG.stderr)
	}
}

// writerFunc is an io.Writer that hands each write to a function.
type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}
