package console_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/rosterhq/roster"
)

// The console jobs of issue 17, in one browser: create a user, set a
// password, confirm destructive actions, sessions and tokens, rename and
// delete groups and workspaces, a workspace's feed, the audit log, numbered
// pages past 1000 rows, search, sortable headers; then the same pages at
// phone width and in the dark theme, the docs page's search and try-it-out,
// and what a non-admin sees.

// darkMode turns prefers-color-scheme: dark on or off.
func darkMode(on bool) chromedp.Action[chromedp.Void] {
	p := emulation.SetEmulatedMediaParams{}
	if on {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, p)
		return err
	})
}

// noMidWordBreaks is true when no element lets the browser break a word
// in the middle to make it fit (overflow-wrap: anywhere, word-break:
// break-all), and nothing is wider than the window.
const noMidWordBreaks = `(() => {
	for (const el of document.querySelectorAll("body *")) {
		const cs = getComputedStyle(el);
		if (cs.overflowWrap === "anywhere" || cs.wordBreak === "break-all") return false;
	}
	return document.documentElement.scrollWidth <= window.innerWidth;
})()`

func TestConsoleJobsInBrowser(t *testing.T) {
	bin := findChromium(t)
	s := startSite(t)
	ctx := context.Background()

	// A group of 1,010 members: the tables used to stop at 1000 rows.
	var everyone, design struct{ ID int64 }
	s.call("POST", "/api/v3/groups", s.adminToken, map[string]string{"name": "everyone"}, 201, &everyone)
	s.call("POST", "/api/v3/groups", s.adminToken, map[string]string{"name": "design"}, 201, &design)
	for i := 1; i <= 1005; i++ {
		u := &roster.User{Username: fmt.Sprintf("member%04d", i), Email: fmt.Sprintf("member%04d@example.com", i),
			IsActive: true, Timezone: "UTC", Locale: "en"}
		if err := s.db.CreateUser(ctx, 0, u, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.db.AddGroupMember(ctx, 0, everyone.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"admin", "jdoe", "jsmith", "mlopez", "tnguyen"} {
		if err := s.db.AddGroupMember(ctx, 0, everyone.ID, s.users[name]); err != nil {
			t.Fatal(err)
		}
	}
	var ws struct{ ID int64 }
	s.call("POST", "/api/v3/workspaces", s.adminToken, map[string]string{"name": "Marketing"}, 201, &ws)
	s.call("POST", "/api/v3/workspaces", s.adminToken, map[string]string{"name": "Research"}, 201, nil)
	s.call("PUT", fmt.Sprintf("/api/v3/workspaces/%d/permissions/groups/%d", ws.ID, everyone.ID), s.adminToken,
		map[string]string{"role": "viewer"}, 200, nil)
	s.call("POST", "/api/v3/activities", s.adminToken, map[string]any{"verb": "document.created", "workspace": ws.ID,
		"object": map[string]string{"type": "document", "id": "d-1", "name": "Launch plan"}}, 201, nil)

	b := newBrowser(t, bin)
	b.do("open the console", chromedp.Navigate(s.URL+"/admin/"))
	b.wait("the sign-in form shows", `!!document.querySelector("#f-username")`)
	b.do("sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "adminpass"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	b.wait("the users list shows with numbered pages", `document.querySelectorAll("#users-table tbody tr").length === 20
		&& String(document.querySelector("#user-results .pager")?.textContent).includes("Page 1 of 51 · 1010 results")`)
	if got := b.eval(`document.querySelector(".brand").innerText`); got != "Roster admin" {
		t.Errorf("an admin's brand reads %q, want Roster admin", got)
	}

	// Sort by a column header: ascending, then descending.
	b.do("sort by username", chromedp.Click(chromedp.CSS(`#users-table th button[data-sort="username"]`)))
	b.wait("sorted by username", `location.hash.includes("ordering=username")
		&& String(document.querySelector("#users-table tbody tr td")?.textContent) === "admin"
		&& document.querySelector('#users-table th[aria-sort="ascending"]') !== null`)
	b.do("sort by username, descending", chromedp.Click(chromedp.CSS(`#users-table th button[data-sort="username"]`)))
	b.wait("sorted by username descending", `location.hash.includes("ordering=-username")
		&& String(document.querySelector("#users-table tbody tr td")?.textContent) === "tnguyen"`)
	b.do("go to the last page", chromedp.Click(chromedp.CSS(`#user-results .pager button[aria-label="Page 51"]`)))
	b.wait("the last page shows the rest", `document.querySelectorAll("#users-table tbody tr").length === 10
		&& String(document.querySelector("#user-results .pager")?.textContent).includes("Page 51 of 51")`)
	b.do("100 per page", chromedp.SetValue(chromedp.CSS(`#user-results .pager select`), "100"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#user-results .pager select").dispatchEvent(new Event("change"))`))
	b.wait("100 rows a page", `document.querySelectorAll("#users-table tbody tr").length === 100
		&& String(document.querySelector("#user-results .pager")?.textContent).includes("Page 1 of 11")`)
	b.screenshot("users-sorted")

	// Create a user: a field error shows once, next to its field.
	b.do("create with a bad email",
		chromedp.SendKeys(chromedp.CSS("#user-create #f-username"), "ghopper"),
		chromedp.SendKeys(chromedp.CSS("#user-create #f-email"), "grace"),
		chromedp.Click(chromedp.CSS("#user-create-submit")))
	b.wait("the email error shows once", `String(document.querySelector("#user-create #err-email")?.textContent) === "Enter a valid email address."
		&& String(document.querySelector("#user-create .form-error[role=alert]")?.textContent) === ""
		&& !document.body.innerText.includes("Invalid input.")`)
	b.screenshot("user-create")
	b.do("create with a good email",
		chromedp.SetValue(chromedp.CSS("#user-create #f-email"), "grace@example.com"),
		chromedp.SendKeys(chromedp.CSS("#user-create #f-firstName"), "Grace"),
		chromedp.Click(chromedp.CSS("#user-create-submit")))
	b.wait("the new user's page opens", `String(document.querySelector("h1")?.textContent).startsWith("ghopper")
		&& !!document.querySelector("#password-form")`)
	graceID := b.eval(`location.hash.split("/")[2]`)

	// An admin sets another user's password without the old one; she signs in.
	b.do("set grace's password",
		chromedp.SendKeys(chromedp.CSS("#password-form #f-password"), "hopper-1906"),
		chromedp.Click(chromedp.CSS("#password-submit")))
	b.wait("the password is set", `String(document.querySelector("#status")?.textContent).includes("password of ghopper is set")`)
	var login struct{ Token string }
	s.call("POST", "/api/v3/auth/token", "", map[string]string{"username": "ghopper", "password": "hopper-1906"}, 201, &login)

	// Her sessions: the new one is listed; revoking asks first.
	b.do("reload her page", chromedp.Evaluate[chromedp.Void](`location.hash = "#/users"; location.hash = "#/users/`+graceID+`"`))
	b.wait("her session is listed", `document.querySelectorAll("#user-tokens-table tbody tr[data-token]").length === 1
		&& String(document.querySelector("#user-tokens-table")?.textContent).includes("sign-in session")`)
	b.screenshot("user-admin")
	b.do("revoke her session, then cancel", chromedp.Click(chromedp.CSS(`#user-tokens-table button`)))
	b.wait("a confirmation asks", `!!document.querySelector("dialog.confirm[open]")`)
	b.do("cancel", chromedp.Click(chromedp.CSS(`dialog.confirm button[value="cancel"]`)))
	s.call("GET", "/api/v3/users/me", login.Token, nil, 200, nil)
	b.do("revoke her session", chromedp.Click(chromedp.CSS(`#user-tokens-table button`)))
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("the session is gone", `document.querySelectorAll("#user-tokens-table tbody tr[data-token]").length === 0`)
	s.call("GET", "/api/v3/users/me", login.Token, nil, 401, nil)

	// Deactivating asks first.
	b.do("deactivate, then cancel", chromedp.Click(chromedp.CSS("#toggle-active")))
	b.do("cancel", chromedp.Click(chromedp.CSS(`dialog.confirm button[value="cancel"]`)))
	var state struct{ IsActive bool }
	s.call("GET", "/api/v3/users/"+graceID, s.adminToken, nil, 200, &state)
	if !state.IsActive {
		t.Fatalf("cancelling the confirmation deactivated the user")
	}
	b.do("deactivate", chromedp.Click(chromedp.CSS("#toggle-active")))
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("she is inactive", `String(document.querySelector("#user-state")?.textContent) === "inactive"`)
	s.call("GET", "/api/v3/users/"+graceID, s.adminToken, nil, 200, &state)
	if state.IsActive {
		t.Errorf("the user is still active after a confirmed deactivation")
	}

	// Groups: search, 1,010 members on numbered pages, rename, remove, delete.
	b.do("open the groups", chromedp.Click(chromedp.CSS(`#nav a[href="#/groups"]`)))
	b.do("search for every", chromedp.SendKeys(chromedp.CSS("#group-search"), "EVERY"))
	b.wait("only everyone matches", `location.hash === "#/groups?q=EVERY" && document.querySelector("#group-results").getAttribute("aria-busy") === "false" && (() => { const rows = document.querySelectorAll("#groups-table tbody tr");
		return rows.length === 1 && rows[0].textContent.includes("everyone") && rows[0].textContent.includes("1010"); })()`)
	b.do("open everyone", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#groups-table a[href="#/groups/%d"]`, everyone.ID))))
	b.wait("the members are paginated", `String(document.querySelector("#group-members h2")?.textContent) === "Members (1010)"
		&& String(document.querySelector("#group-member-results .pager")?.textContent).includes("Page 1 of 51 · 1010 results")`)
	b.do("go to the last page", chromedp.Click(chromedp.CSS(`#group-member-results .pager button[aria-label="Page 51"]`)))
	b.wait("members past the 1000th show", `(() => { const rows = [...document.querySelectorAll("#group-members-table tbody tr")];
		return rows.length === 10 && rows.some((r) => r.textContent.includes("member1005")); })()`)
	b.screenshot("group-pages")
	b.do("remove member1005", chromedp.Click(chromedp.CSS(`#group-members-table button[aria-label="Remove member1005"]`)))
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("member1005 is removed", `String(document.querySelector("#group-members h2")?.textContent) === "Members (1009)"`)
	b.do("rename everyone", chromedp.SetValue(chromedp.CSS("#group-rename #f-name"), "all-staff"),
		chromedp.Click(chromedp.CSS(`#group-rename button[type="submit"]`)))
	b.wait("renamed", `String(document.querySelector("h1")?.textContent) === "all-staff"`)
	var g struct{ Name string }
	s.call("GET", fmt.Sprintf("/api/v3/groups/%d", everyone.ID), s.adminToken, nil, 200, &g)
	if g.Name != "all-staff" {
		t.Errorf("group name after the rename: %q", g.Name)
	}
	b.do("open design", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/groups/%d"`, design.ID)))
	b.wait("design shows", `String(document.querySelector("h1")?.textContent) === "design" && !!document.querySelector("#group-delete")`)
	b.do("delete design", chromedp.Click(chromedp.CSS("#group-delete")))
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("back on the groups", `location.hash === "#/groups" && !!document.querySelector("#groups-table")`)
	s.call("GET", fmt.Sprintf("/api/v3/groups/%d", design.ID), s.adminToken, nil, 404, nil)

	// Workspaces: search, members past 1000, a group picker that searches,
	// the activity feed, rename, delete.
	b.do("open the workspaces", chromedp.Click(chromedp.CSS(`#nav a[href="#/workspaces"]`)))
	b.do("search for mark", chromedp.SendKeys(chromedp.CSS("#workspace-search"), "mark"))
	b.wait("only Marketing matches", `location.hash === "#/workspaces?q=mark" && document.querySelector("#workspace-results").getAttribute("aria-busy") === "false" && (() => { const rows = document.querySelectorAll("#workspaces-table tbody tr");
		return rows.length === 1 && rows[0].textContent.includes("Marketing"); })()`)
	b.do("open Marketing", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#workspaces-table a[href="#/workspaces/%d"]`, ws.ID))))
	b.wait("members and the feed show", `String(document.querySelector("#members-results .pager")?.textContent).includes("1009 results")
		&& [...document.querySelectorAll("#workspace-activity-table tbody tr")].some((r) => r.textContent.includes("Launch plan"))`)
	b.do("filter the feed by verb",
		chromedp.SendKeys(chromedp.CSS("#workspace-activity #af-verb"), "workspace.*"),
		chromedp.Click(chromedp.CSS(`#workspace-activity #activity-filters button[type="submit"]`)))
	b.wait("only workspace.* activities", `(() => { const rows = [...document.querySelectorAll("#workspace-activity-table tbody tr")];
		return rows.length >= 1 && rows.every((r) => r.textContent.includes("workspace.")); })()`)
	b.do("grant a group by search", chromedp.SetValue(chromedp.CSS("#grant-type"), "group"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#grant-type").dispatchEvent(new Event("change"))`),
		chromedp.SendKeys(chromedp.CSS("#grant-group"), "all-staff"),
		chromedp.SetValue(chromedp.CSS("#grant-role"), "member"),
		chromedp.Click(chromedp.CSS("#grant-submit")))
	b.wait("the group's role changed", `(() => { const row = document.querySelector('#grants-table tr[data-subject="group:all-staff"]');
		return !!row && row.querySelector("select").value === "member"; })()`)
	b.screenshot("workspace-feed")
	b.do("revoke the grant", chromedp.Click(chromedp.CSS(`#grants-table button[aria-label="Revoke group all-staff"]`)))
	b.wait("a confirmation asks", `!!document.querySelector("dialog.confirm[open]")`)
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("the grant is gone", `!document.querySelector('#grants-table tr[data-subject="group:all-staff"]')`)
	b.do("rename Marketing", chromedp.SetValue(chromedp.CSS("#workspace-rename #f-name"), "Growth"),
		chromedp.SetValue(chromedp.CSS("#workspace-rename #f-slug"), "growth"),
		chromedp.Click(chromedp.CSS(`#workspace-rename button[type="submit"]`)))
	b.wait("renamed", `String(document.querySelector("h1")?.textContent).startsWith("Growth") && String(document.querySelector("h1 .badge")?.textContent) === "growth"`)
	b.do("delete it", chromedp.Click(chromedp.CSS("#workspace-delete")))
	b.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.wait("back on the workspaces", `location.hash === "#/workspaces"`)
	s.call("GET", fmt.Sprintf("/api/v3/workspaces/%d", ws.ID), s.adminToken, nil, 404, nil)

	// The audit log, with the API's filters.
	b.do("open the audit log", chromedp.Click(chromedp.CSS(`#nav a[href="#/activity"]`)))
	b.wait("the audit log lists activities", `String(document.querySelector("h1")?.textContent) === "Audit log"
		&& document.querySelectorAll("#audit-table tbody tr").length === 20`)
	b.do("filter by actor and verb",
		chromedp.SendKeys(chromedp.CSS("#af-actor"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#af-verb"), "user.*"),
		chromedp.Click(chromedp.CSS(`#activity-filters button[type="submit"]`)))
	b.wait("only the admin's user.* activities", `(() => { const rows = [...document.querySelectorAll("#audit-table tbody tr")];
		return rows.length >= 2 && rows.every((r) => r.textContent.includes("admin") && r.textContent.includes("user.")); })()`)
	b.screenshot("audit")

	// Phone width: every page fits, tables scroll in their box, no word is
	// broken in the middle.
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []struct{ name, hash, ready string }{
		{"users-phone", "#/users", `document.querySelectorAll("#users-table tbody tr").length > 0`},
		{"user-phone", "#/users/" + graceID, `!!document.querySelector("#user-tokens-table")`},
		{"groups-phone", fmt.Sprintf("#/groups/%d", everyone.ID), `!!document.querySelector("#group-members-table")`},
		{"workspaces-phone", "#/workspaces", `!!document.querySelector("#workspaces-table")`},
		{"audit-phone", "#/activity", `document.querySelectorAll("#audit-table tbody tr").length > 0`},
	} {
		b.do("open "+p.name, chromedp.Evaluate[chromedp.Void](`location.hash = "`+p.hash+`"`))
		b.wait(p.name+" shows", p.ready)
		b.wait(p.name+" fits without mid-word breaks", noMidWordBreaks)
		b.screenshot(p.name)
	}

	// The dark theme follows the system setting.
	b.do("dark mode", darkMode(true))
	b.wait("the page is dark", `(() => { const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
		return m[0] + m[1] + m[2] < 120; })()`)
	b.screenshot("audit-phone-dark")
	b.do("desktop width", chromedp.EmulateViewport(1200, 860))
	b.do("open the user page", chromedp.Evaluate[chromedp.Void](`location.hash = "#/users/`+graceID+`"`))
	b.wait("the user page shows", `!!document.querySelector("#user-tokens-table")`)
	b.screenshot("user-dark")
	b.do("light mode", darkMode(false))

	// The docs page: search, examples, types, try it out with the token of
	// the console's session.
	b.do("open the docs", chromedp.Navigate(s.URL+"/api/v3/docs"))
	b.wait("the docs render", `!!document.querySelector("#main").dataset.operations`)
	if got := b.eval(`String(document.querySelectorAll(".example").length)`); got == "0" {
		t.Errorf("the docs show no examples")
	}
	if b.eval(`String(document.body.textContent.includes("any | any") || document.body.textContent.includes("any (uri)"))`) != "false" {
		t.Errorf("the docs render untyped schemas as any")
	}
	b.do("search the docs", chromedp.SendKeys(chromedp.CSS("#docs-search"), "get /users/me"))
	b.wait("the search narrows the operations", `(() => { const shown = [...document.querySelectorAll(".op")].filter((o) => !o.hidden);
		return shown.length >= 1 && shown.length < 10 && shown.some((o) => o.dataset.path === "/api/v3/users/me"); })()`)
	b.wait("the token comes from the console's session", `document.querySelector("#try-token").value.length > 20`)
	b.do("try GET /users/me", chromedp.Evaluate[chromedp.Void](`(() => {
		const op = document.querySelector('.op[data-method="GET"][data-path="/api/v3/users/me"]');
		op.querySelector("details.try").open = true;
		op.querySelector(".try-form button[type=submit]").click(); })()`))
	b.wait("the answer shows", `(() => { const r = document.querySelector('.op[data-method="GET"][data-path="/api/v3/users/me"] .try-result');
		return r.textContent.includes("200") && r.textContent.includes('"username": "admin"'); })()`)
	b.screenshot("docs-try")
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.wait("the docs fit at phone width", noMidWordBreaks)
	b.screenshot("docs-phone")
	b.do("desktop width", chromedp.EmulateViewport(1200, 860))

	// A non-admin changes their own password (with the current one) and
	// does not see "Roster admin".
	b.do("back to the console", chromedp.Navigate(s.URL+"/admin/#/users"))
	b.wait("the console shows", `!!document.querySelector("#signout")`)
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	b.wait("signed out", `!!document.querySelector("#signin-form")`)
	b.do("sign in as jsmith",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "smithpass"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	b.wait("jsmith is signed in", `String(document.querySelector("#whoami-name")?.textContent) === "jsmith"`)
	if got := b.eval(`document.querySelector(".brand").innerText + " | " + document.title`); got != "Roster | Users · Roster" {
		t.Errorf("a non-admin sees %q, want no \"Roster admin\"", got)
	}
	b.do("open jsmith's page", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/users/%d"`, s.users["jsmith"])))
	b.wait("the password form asks for the current one", `!!document.querySelector("#password-form #f-currentPassword")`)
	b.do("change with a wrong current password",
		chromedp.SendKeys(chromedp.CSS("#password-form #f-currentPassword"), "wrong-pass"),
		chromedp.SendKeys(chromedp.CSS("#password-form #f-password"), "smith-new-1"),
		chromedp.Click(chromedp.CSS("#password-submit")))
	b.wait("the error shows by the field", `String(document.querySelector("#password-form #err-currentPassword")?.textContent) === "The current password is not correct."
		&& String(document.querySelector("#password-form .form-error[role=alert]")?.textContent) === ""`)
	b.do("change it",
		chromedp.SetValue(chromedp.CSS("#password-form #f-currentPassword"), "smithpass"),
		chromedp.Click(chromedp.CSS("#password-submit")))
	b.wait("the password is changed", `String(document.querySelector("#status")?.textContent).includes("Your password is changed.")`)
	s.call("POST", "/api/v3/auth/token", "", map[string]string{"username": "jsmith", "password": "smith-new-1"}, 201, nil)
	b.do("open the activity view", chromedp.Click(chromedp.CSS(`#nav a[href="#/activity"]`)))
	b.wait("a non-admin's view is named Activity", `String(document.querySelector("h1")?.textContent) === "Activity"`)
	b.checkConsole("the end")
}
