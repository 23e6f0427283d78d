package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/sqlite"
)

// The browser tests drive the admin console and the docs page in headless
// Chromium against a real server on a fresh SQLite file. They are skipped
// when no Chromium is installed (Debian: apt-get install chromium
// chromium-driver; .ci/run installs it). ROSTER_CHROMIUM names the binary;
// ROSTER_SCREENSHOTS, when set, is a folder that also receives the
// screenshots (the README's come from docs/screenshots).

// findChromium returns the browser binary, or skips the test.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ROSTER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser tests skipped: no Chromium found (install Debian's chromium, or set ROSTER_CHROMIUM)")
	return ""
}

// site is one test's Roster server with its seeded users.
type site struct {
	t          *testing.T
	db         *sqlite.DB
	URL        string
	adminToken string
	users      map[string]int64 // username -> id
}

func startSite(t *testing.T) *site {
	t.Helper()
	return startSiteWith(t, rostertest.Options{})
}

// startSiteWith is startSite with server options.
func startSiteWith(t *testing.T, opts rostertest.Options) *site {
	t.Helper()
	ctx := context.Background()
	srv := rostertest.Start(t, opts)
	db, hasher := srv.DB, srv.Hasher
	var err error
	s := &site{t: t, db: db, URL: srv.URL, users: map[string]int64{}}

	for _, u := range []struct {
		name, first, last, pw string
		admin                 bool
	}{
		{"admin", "Ada", "Admin", "adminpass", true},
		{"jdoe", "Jane", "Doe", "", false},
		{"jsmith", "John", "Smith", "smithpass", false},
		{"mlopez", "Maria", "Lopez", "", false},
		{"tnguyen", "Thanh", "Nguyen", "", false},
	} {
		hash := ""
		if u.pw != "" {
			if hash, err = hasher.Hash(ctx, u.pw); err != nil {
				t.Fatal(err)
			}
		}
		user := &roster.User{Username: u.name, Email: u.name + "@example.com", FirstName: u.first, LastName: u.last,
			IsActive: true, IsAdmin: u.admin, Timezone: "UTC", Locale: "en"}
		if err := db.CreateUser(ctx, 0, user, hash); err != nil {
			t.Fatal(err)
		}
		s.users[u.name] = user.ID
	}
	var login struct{ Token string }
	s.call("POST", "/api/v3/auth/token", "", map[string]string{"username": "admin", "password": "adminpass"}, 201, &login)
	s.adminToken = login.Token
	return s
}

// call makes one API request and decodes the answer into out (if not nil).
func (s *site) call(method, path, token string, body any, want int, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, res.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// browser is a headless Chromium tab that records console errors.
type browser struct {
	t        *testing.T
	ctx      context.Context
	shotsDir string
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 860),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	b := &browser{t: t, ctx: ctx, shotsDir: t.ArtifactDir()}
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})

	// Console API errors, uncaught exceptions and browser log errors fail
	// the test. Failed network requests are logged by the browser too; the
	// console makes some on purpose (a 400 for a bad email), so those are
	// only logged.
	messages := chromedp.Console(ctx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium (%s): %v", bin, err)
	}
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.IsException(), m.Type == chromedp.ConsoleError && m.Source != "network":
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			default:
				t.Logf("browser console: %s", m)
			}
		}
	}()
	return b
}

// do runs actions and fails the test with what it was doing.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed")
		b.t.Fatalf("%s: %v", what, err)
	}
	b.checkConsole(what)
}

// wait polls a JavaScript expression until it is true.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		b.screenshot("failed")
		b.t.Fatalf("waiting until %s (%s): %v", what, expr, err)
	}
	b.checkConsole(what)
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) checkConsole(after string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console error (by the step %q): %s", after, p)
	}
	b.problems = nil
}

// checkText fails the test when the page shows text that comes from a
// value rendered by mistake ("[object HTMLElement]", "undefined", and on
// the console's pages "null"; the docs pages, named docs*, may say null).
func (b *browser) checkText(name string) {
	b.t.Helper()
	re := `/\[object |\bundefined\b|\bNaN\b/`
	if !strings.HasPrefix(name, "docs") {
		re = `/\[object |\bundefined\b|\bNaN\b|\bnull\b/`
	}
	if bad := b.eval(`(document.body.innerText.match(` + re + `) || [""])[0]`); bad != "" {
		b.t.Errorf("page %s shows %q", name, bad)
	}
}

// screenshot saves the visible page as name.png in the test's artifact
// folder, and in $ROSTER_SCREENSHOTS when set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if name != "failed" {
		b.checkText(name)
	}
	_ = chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dirs := []string{b.shotsDir}
	if d := os.Getenv("ROSTER_SCREENSHOTS"); d != "" && name != "failed" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Errorf("screenshot %s: %v", name, err)
			continue
		}
		b.t.Logf("screenshot: %s", p)
	}
}

func TestConsoleInBrowser(t *testing.T) {
	bin := findChromium(t)
	s := startSite(t)
	s.call("POST", "/api/v3/workspaces", s.adminToken, map[string]string{"name": "Marketing"}, 201, nil)
	s.call("POST", "/api/v3/workspaces", s.adminToken, map[string]string{"name": "Design"}, 201, nil)
	var group struct{ ID int64 }
	s.call("POST", "/api/v3/groups", s.adminToken, map[string]string{"name": "design"}, 201, &group)
	b := newBrowser(t, bin)
	jdoe := s.users["jdoe"]

	// Sign in, with the keyboard: type, then Enter.
	b.do("open the console", chromedp.Navigate(s.URL+"/admin/"))
	b.wait("the sign-in form shows", `document.activeElement && document.activeElement.id === "f-username"`)
	b.screenshot("signin")
	b.do("sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "adminpass"+kb.Enter))
	b.wait("the users list shows", `document.querySelectorAll("#users-table tbody tr").length === 5`)
	if got := b.eval(`document.querySelector("#whoami-name").textContent`); got != "admin (admin)" {
		t.Errorf("signed in as %q, want admin (admin)", got)
	}
	b.screenshot("users")

	// Search as you type.
	b.do("search for jane", chromedp.SendKeys(chromedp.CSS("#user-search"), "jane"))
	b.wait("the search finds only jdoe", `(() => { const rows = document.querySelectorAll("#users-table tbody tr");
		return rows.length === 1 && rows[0].textContent.includes("jdoe"); })()`)
	if got := b.eval(`location.hash`); got != "#/users?q=jane" {
		t.Errorf("hash after search = %q, want #/users?q=jane", got)
	}

	// A user's page: a bad email shows the API's message next to the field.
	b.do("open jdoe's page", chromedp.Click(chromedp.CSS(`#users-table a[href="#/users/`+fmt.Sprint(jdoe)+`"]`)))
	b.wait("the profile form shows", `!!document.querySelector("#profile-form #f-email") && !!document.querySelector("#live-state")`)
	b.do("enter a bad email",
		chromedp.SetValue(chromedp.CSS("#f-email"), "not an address"),
		chromedp.Click(chromedp.CSS("#profile-save")))
	b.wait("the email error shows", `document.querySelector("#err-email").textContent === "Enter a valid email address."
		&& document.querySelector("#f-email").getAttribute("aria-invalid") === "true"`)
	b.screenshot("user-validation")
	b.do("fix the email and change the first name",
		chromedp.SetValue(chromedp.CSS("#f-email"), "jane.doe@example.com"),
		chromedp.SetValue(chromedp.CSS("#f-firstName"), "Janet"),
		chromedp.Click(chromedp.CSS("#profile-save")))
	b.wait("the save is confirmed", `document.querySelector("#status").textContent === "Saved."
		&& document.querySelector("#err-email").textContent === ""`)
	var profile struct{ FirstName, Email string }
	s.call("GET", fmt.Sprintf("/api/v3/users/%d", jdoe), s.adminToken, nil, 200, &profile)
	if profile.FirstName != "Janet" || profile.Email != "jane.doe@example.com" {
		t.Errorf("after the save: firstName %q, email %q", profile.FirstName, profile.Email)
	}

	// Live: an activity posted through the API appears on the page.
	b.wait("the live view is connected", `document.querySelector("#live-state").dataset.state === "open"`)
	s.call("POST", "/api/v3/activities", s.adminToken, map[string]any{"actor": jdoe, "verb": "document.created",
		"object": map[string]string{"type": "document", "id": "d-77", "name": "Q3 plan"}}, 201, nil)
	b.wait("the new activity appears live", `(() => { const li = document.querySelector("#activity-list li.activity");
		return !!li && li.textContent.includes("Q3 plan") && li.textContent.includes("document.created"); })()`)
	b.screenshot("user")

	// Workspaces: grant jsmith the admin role in Marketing.
	b.do("open the workspaces", chromedp.Click(chromedp.CSS(`#nav a[href="#/workspaces"]`)))
	b.wait("the workspaces list shows", `[...document.querySelectorAll("#workspace-results a")].some(a => a.textContent === "Marketing")`)
	b.do("open Marketing", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#workspace-results a")].find(a => a.textContent === "Marketing").click()`))
	b.wait("the grant form shows", `!!document.querySelector("#grant-form #grant-user")`)
	b.do("grant jsmith admin",
		chromedp.SendKeys(chromedp.CSS("#grant-user"), "jsmith"),
		chromedp.SetValue(chromedp.CSS("#grant-role"), "admin"),
		chromedp.Click(chromedp.CSS("#grant-submit")))
	b.wait("the grant is listed", `(() => { const row = document.querySelector('#grants-table tr[data-subject="user:jsmith"]');
		return !!row && row.querySelector("select").value === "admin"
			&& [...document.querySelectorAll("#members-table tbody tr")].some(r => r.textContent.includes("jsmith") && r.textContent.includes("admin")); })()`)
	b.screenshot("workspace")
	var grants struct {
		Results []struct {
			Subject struct{ Name string }
			Role    string
		}
	}
	s.call("GET", "/api/v3/workspaces/1/permissions", s.adminToken, nil, 200, &grants)
	if len(grants.Results) != 1 || grants.Results[0].Subject.Name != "jsmith" || grants.Results[0].Role != "admin" {
		t.Errorf("grants of Marketing after the UI grant: %+v", grants.Results)
	}

	// Issue 16, item 2: in data from before usernames and emails were made
	// unique across both fields, mlopez's username may be tnguyen's email.
	// Granting that name must not pick mlopez (it picked the username
	// match); the console refuses the ambiguous name and grants by #id.
	if _, err := s.db.WriteDB().Exec(`UPDATE users SET username = 'tnguyen@example.com', username_fold = 'tnguyen@example.com',
		search_text = 'tnguyen@example.com' || substr(search_text, instr(search_text, char(31))) WHERE id = ?`, s.users["mlopez"]); err != nil {
		t.Fatal(err)
	}
	b.do("grant the ambiguous name",
		chromedp.SetValue(chromedp.CSS("#grant-user"), "tnguyen@example.com"),
		chromedp.SetValue(chromedp.CSS("#grant-role"), "viewer"),
		chromedp.Click(chromedp.CSS("#grant-submit")))
	b.wait("the ambiguity is reported", `document.querySelector("#grant-error").textContent.includes("enter #id instead")`)
	b.do("grant by id",
		chromedp.SetValue(chromedp.CSS("#grant-user"), fmt.Sprintf("#%d", s.users["tnguyen"])),
		chromedp.Click(chromedp.CSS("#grant-submit")))
	b.wait("tnguyen's grant is listed", `!!document.querySelector('#grants-table tr[data-subject="user:tnguyen"]')`)
	s.call("GET", "/api/v3/workspaces/1/permissions", s.adminToken, nil, 200, &grants)
	if len(grants.Results) != 2 {
		t.Errorf("grants of Marketing after the grant by id: %+v", grants.Results)
	}
	for _, g := range grants.Results {
		if g.Subject.Name == "tnguyen@example.com" {
			t.Errorf("the ambiguous name was granted to mlopez: %+v", grants.Results)
		}
	}

	// Groups: add jdoe to design.
	b.do("open the groups", chromedp.Click(chromedp.CSS(`#nav a[href="#/groups"]`)))
	b.do("open design", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#group-results a[href="#/groups/%d"]`, group.ID))))
	b.wait("the member form shows", `!!document.querySelector("#member-form #member-user")`)
	b.do("add jdoe",
		chromedp.SendKeys(chromedp.CSS("#member-user"), "jdoe"),
		chromedp.Click(chromedp.CSS(`#member-form button[type="submit"]`)))
	b.wait("jdoe is a member", `[...document.querySelectorAll("#group-members-table tbody tr")].some(r => r.textContent.includes("jdoe"))`)
	b.screenshot("group")

	// A narrow window: nothing wider than the viewport.
	b.do("narrow the window", chromedp.EmulateViewport(390, 844))
	b.do("open the users", chromedp.Click(chromedp.CSS(`#nav a[href="#/users"]`)))
	b.wait("the users list shows", `document.querySelectorAll("#users-table tbody tr").length === 5`)
	if w := b.eval(`String(document.documentElement.scrollWidth) + "/" + String(window.innerWidth)`); !narrowOK(w) {
		t.Errorf("users list on a 390px window: scrollWidth/innerWidth = %s", w)
	}
	b.screenshot("users-narrow")
	b.do("open jdoe's page", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/users/%d"`, jdoe)))
	b.wait("the profile form shows", `!!document.querySelector("#profile-form")`)
	if w := b.eval(`String(document.documentElement.scrollWidth) + "/" + String(window.innerWidth)`); !narrowOK(w) {
		t.Errorf("user page on a 390px window: scrollWidth/innerWidth = %s", w)
	}
	b.do("widen the window", chromedp.EmulateViewport(1200, 860))

	// Sign out, then in as jsmith, who is no admin.
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	b.wait("the sign-in form shows", `!!document.querySelector("#signin-form") && sessionStorage.getItem("roster.token") === null`)
	b.do("sign in as jsmith",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "smithpass"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	b.wait("jsmith is signed in", `document.querySelector("#whoami-name").textContent === "jsmith"`)
	b.do("open jdoe's page", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/users/%d"`, jdoe)))
	b.wait("jdoe's page is read-only for jsmith", `!!document.querySelector("#profile-form fieldset[disabled]")
		&& !document.querySelector("#profile-save") && !document.querySelector("#delete-user") && !document.querySelector("#toggle-active")`)
	b.do("open jsmith's own page", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/users/%d"`, s.users["jsmith"])))
	b.wait("jsmith may edit their own profile", `!!document.querySelector("#profile-save") && !document.querySelector("#profile-form fieldset[disabled]")
		&& !document.querySelector("#f-isAdmin") && !document.querySelector("#delete-user")`)
	b.do("open the groups", chromedp.Click(chromedp.CSS(`#nav a[href="#/groups"]`)))
	b.wait("groups have no create form for jsmith", `!!document.querySelector("#group-results table") && !document.querySelector("#group-create")`)
	b.screenshot("groups-nonadmin")

	// The API docs page lists every operation of the served document.
	b.do("open the API docs", chromedp.Navigate(s.URL+"/api/v3/docs"))
	b.wait("the operations are rendered", `!!document.querySelector("#main").dataset.operations`)
	want := countOperations(t)
	if got := b.eval(`document.querySelector("#main").dataset.operations`); got != fmt.Sprint(want) {
		t.Errorf("docs page renders %s operations, the document has %d", got, want)
	}
	b.wait("the search operation is listed with its parameters", `(() => {
		const op = document.querySelector('.op[data-method="GET"][data-path="/api/v3/users/search"]');
		return !!op && op.textContent.includes("page_size") && !!document.querySelector('#toc a[href="#' + op.id + '"]')
			&& op.querySelector(".tag-scope").textContent === "scope users:read"; })()`)
	b.screenshot("docs")
	b.checkConsole("the end")
}

func narrowOK(s string) bool {
	var scroll, inner int
	if _, err := fmt.Sscanf(s, "%d/%d", &scroll, &inner); err != nil {
		return false
	}
	return scroll <= inner
}

// countOperations counts the operations of the embedded OpenAPI document.
func countOperations(t *testing.T) int {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range doc.Paths {
		for _, m := range []string{"get", "put", "post", "patch", "delete", "options", "head", "trace"} {
			if _, ok := item[m]; ok {
				n++
			}
		}
	}
	return n
}

// TestTokensPageInBrowser: a user makes a scoped token (checkboxes), sees
// its secret once with a copy button, uses it, and revokes it; an admin
// makes a service account and gives it a token.
func TestTokensPageInBrowser(t *testing.T) {
	bin := findChromium(t)
	s := startSite(t)
	b := newBrowser(t, bin)
	status := func(token, path string) int {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	b.do("open the console", chromedp.Navigate(s.URL+"/admin/"))
	b.wait("the sign-in form shows", `document.activeElement && document.activeElement.id === "f-username"`)
	b.do("sign in as jsmith",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "smithpass"+kb.Enter))
	b.wait("jsmith is signed in", `document.querySelector("#whoami-name").textContent === "jsmith"`)
	b.do("open the tokens", chromedp.Click(chromedp.CSS(`#nav a[href="#/tokens"]`)))
	b.wait("the session is listed", `(() => { const rows = document.querySelectorAll("#tokens-table tbody tr[data-token]");
		return rows.length === 1 && rows[0].textContent.includes("this session"); })()`)
	if got := b.eval(`String(!!document.querySelector("#scope-webhooks") || !!document.querySelector("#scope-scim") || !!document.querySelector("#service-create"))`); got != "false" {
		t.Errorf("a non-admin is offered admin-only scopes or service accounts")
	}
	b.do("ask for a token without scopes",
		chromedp.SendKeys(chromedp.CSS("#f-name"), "ci-bot"),
		chromedp.Click(chromedp.CSS("#token-submit")))
	b.wait("the scopes error shows", `document.querySelector("#err-scopes").textContent !== ""`)
	b.do("create a token with two scopes",
		chromedp.Click(chromedp.CSS("#scope-users-read")),
		chromedp.Click(chromedp.CSS("#scope-activities-write")),
		chromedp.Click(chromedp.CSS("#token-submit")))
	b.wait("the secret shows once", `(() => { const i = document.querySelector("#new-token-secret");
		return !!i && i.value.startsWith("rst_") && !document.querySelector("#new-token").hidden
			&& document.querySelectorAll("#tokens-table tbody tr[data-token]").length === 2; })()`)
	b.screenshot("tokens")
	secret := b.eval(`document.querySelector("#new-token-secret").value`)
	b.do("copy it", chromedp.Click(chromedp.CSS("#copy-token")))
	b.wait("the copy is confirmed", `document.querySelector("#status").textContent.startsWith("Copied")
		|| document.querySelector("#status").textContent.startsWith("Select")`)
	if got := b.eval(`document.querySelector("#tokens-table").textContent`); strings.Contains(got, secret) || !strings.Contains(got, secret[:8]) {
		t.Errorf("the list shows the secret, or not its prefix: %q", got)
	}
	if st := status(secret, "/api/v3/users/me"); st != 200 {
		t.Errorf("the new token on /users/me: %d", st)
	}
	if st := status(secret, "/api/v3/groups"); st != 403 {
		t.Errorf("the new token on /groups (no groups:read): %d, want 403", st)
	}
	b.do("revoke it", chromedp.Click(chromedp.CSS(`#tokens-table tr[data-name="ci-bot"] button[data-revoke]`)))
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("it is gone", `document.querySelectorAll("#tokens-table tbody tr[data-token]").length === 1`)
	if st := status(secret, "/api/v3/users/me"); st != 401 {
		t.Errorf("the revoked token on /users/me: %d, want 401", st)
	}

	// An admin makes a service account and gives it a token.
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	b.wait("the sign-in form shows", `!!document.querySelector("#signin-form")`)
	b.do("sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "adminpass"+kb.Enter))
	b.wait("admin is signed in", `document.querySelector("#whoami-name").textContent === "admin (admin)"`)
	b.do("open the tokens", chromedp.Click(chromedp.CSS(`#nav a[href="#/tokens"]`)))
	b.wait("the service account form shows", `!!document.querySelector("#service-create") && !!document.querySelector("#scope-webhooks")`)
	b.do("create a service account",
		chromedp.SendKeys(chromedp.CSS("#service-create #f-username"), "deploy-bot"),
		chromedp.SendKeys(chromedp.CSS("#service-create #f-email"), "deploy-bot@example.com"),
		chromedp.Click(chromedp.CSS("#service-submit")))
	b.wait("its tokens page opens", `(() => { const h1 = document.querySelector("h1");
		return !!h1 && h1.textContent.includes("Tokens of deploy-bot") && h1.textContent.includes("service account")
			&& !!document.querySelector("#token-create") && !document.querySelector("#scope-webhooks"); })()`)
	b.do("give it a token",
		chromedp.SendKeys(chromedp.CSS("#token-create #f-name"), "deploy"),
		chromedp.Click(chromedp.CSS("#scope-activities-write")),
		chromedp.Click(chromedp.CSS("#token-submit")))
	b.wait("the secret shows", `(() => { const i = document.querySelector("#new-token-secret");
		return !!i && i.value.startsWith("rst_") && document.querySelectorAll("#tokens-table tbody tr[data-token]").length === 1; })()`)
	b.screenshot("tokens-service")
	botSecret := b.eval(`document.querySelector("#new-token-secret").value`)
	var bot struct {
		ID        int64
		IsService bool
	}
	s.call("GET", "/api/v3/users/me", botSecret, nil, 403, nil) // activities:write only
	var list struct {
		Results []struct {
			ID        int64
			IsService bool
		}
	}
	s.call("GET", "/api/v3/users?isService=true", s.adminToken, nil, 200, &list)
	if len(list.Results) != 1 {
		t.Fatalf("service accounts: %+v", list.Results)
	}
	bot.ID = list.Results[0].ID
	s.call("GET", fmt.Sprintf("/api/v3/users/%d", bot.ID), s.adminToken, nil, 200, &bot)
	if !bot.IsService {
		t.Errorf("deploy-bot is not a service account")
	}
	s.call("POST", "/api/v3/activities", botSecret, map[string]string{"verb": "deploy.finished"}, 201, nil)

	// An admin sees any user's tokens (jsmith's session ended when jsmith signed out).
	var jsLogin struct{ Token string }
	s.call("POST", "/api/v3/auth/token", "", map[string]string{"username": "jsmith", "password": "smithpass"}, 201, &jsLogin)
	b.do("open jsmith's tokens", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/tokens?user=%d"`, s.users["jsmith"])))
	b.wait("jsmith's session is listed", fmt.Sprintf(`(() => { const h1 = document.querySelector("h1");
		const rows = document.querySelectorAll("#tokens-table tbody tr[data-token]");
		return !!h1 && h1.textContent === "Tokens of jsmith" && rows.length === 1
			&& !!rows[0].querySelector("button[data-revoke]") && rows[0].textContent.includes(%q); })()`, jsLogin.Token[:8]))
	b.checkConsole("the end")
}
