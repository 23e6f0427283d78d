package console_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/webhook"
)

// withDeliverer runs the webhook deliverer, allowed to reach 127.0.0.1.
var withDeliverer = rostertest.Options{Configure: func(c *app.Config) {
	c.Webhooks = &webhook.Options{AllowPrivate: true, Poll: 200 * time.Millisecond}
}}

// hookReceiver is a webhook receiver on a loopback port that records what
// it is sent.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []hookMsg
}

type hookMsg struct {
	id, ts, sig string
	body        []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.msgs = append(r.msgs, hookMsg{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// of returns the messages of type typ received so far.
func (r *hookReceiver) of(typ string) []hookMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookMsg
	for _, m := range r.msgs {
		var p struct{ Type string }
		if json.Unmarshal(m.body, &p) == nil && p.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// signedBy reports whether m carries a v1 signature by secret, computed
// here from the Standard Webhooks specification (HMAC-SHA256 over
// "id.timestamp.body", keyed by the base64 after "whsec_").
func signedBy(m hookMsg, secret string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(m.id + "." + m.ts + "." + string(m.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(m.sig) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// TestWebhooksPageInBrowser: an admin creates a webhook (field errors
// first), reads its secret once, sends a test event that a real receiver
// on 127.0.0.1 gets and verifies, sees the deliveries, disables and
// re-enables it, rotates its secret and deletes it. A non-admin has no
// Webhooks page.
func TestWebhooksPageInBrowser(t *testing.T) {
	bin := findChromium(t)
	s := startSiteWith(t, withDeliverer)
	s.call("POST", "/api/v3/workspaces", s.adminToken, map[string]string{"name": "Marketing"}, 201, nil)
	recv := newHookReceiver(t)
	b := newBrowser(t, bin)

	b.do("open the console", chromedp.Navigate(s.URL+"/admin/"))
	b.wait("the sign-in form shows", `document.activeElement && document.activeElement.id === "f-username"`)
	b.do("sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "adminpass"+kb.Enter))
	b.wait("admin is signed in", `document.querySelector("#whoami-name").textContent === "admin (admin)"
		&& !document.querySelector("#nav-webhooks").hidden`)
	b.do("open the webhooks", chromedp.Click(chromedp.CSS(`#nav a[href="#/webhooks"]`)))
	b.wait("the empty list and the workspaces show", `!!document.querySelector("#webhooks-table td.empty")
		&& [...document.querySelectorAll("#f-workspace option")].some(o => o.textContent === "Marketing")`)

	// Bad input: the API's field errors show next to their fields.
	b.do("submit a bad URL and a bad verb",
		chromedp.SendKeys(chromedp.CSS("#f-url"), "ftp://example.com/hook"),
		chromedp.SendKeys(chromedp.CSS("#f-verbs"), "user.* Not-A-Verb!"),
		chromedp.Click(chromedp.CSS("#webhook-submit")))
	b.wait("the field errors show", `document.querySelector("#err-url").textContent === "Enter an http(s) URL without credentials."
		&& document.querySelector("#f-url").getAttribute("aria-invalid") === "true"
		&& document.querySelector("#err-verbs").textContent.startsWith("Each must be a verb")`)
	var list struct {
		Count   int
		Results []struct{ ID int64 }
	}
	s.call("GET", "/api/v3/webhooks", s.adminToken, nil, 200, &list)
	if list.Count != 0 {
		t.Fatalf("the refused webhook was stored: %+v", list)
	}

	// Create it; the secret shows once.
	b.do("fix the fields and create",
		chromedp.SetValue(chromedp.CSS("#f-url"), recv.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS("#f-verbs"), "user.*, webhook.test"),
		chromedp.SetValue(chromedp.CSS("#f-description"), "CRM <sync> & co"),
		chromedp.Click(chromedp.CSS("#webhook-submit")))
	b.wait("the secret and the new row show", `(() => { const i = document.querySelector("#new-webhook-secret");
		const rows = document.querySelectorAll("#webhooks-table tbody tr[data-webhook]");
		return !!i && i.value.startsWith("whsec_") && !document.querySelector("#new-webhook").hidden
			&& rows.length === 1 && rows[0].textContent.includes("CRM <sync> & co") && rows[0].textContent.includes("enabled")
			&& document.querySelector("#err-url").textContent === ""; })()`)
	b.screenshot("webhooks")
	secret := b.eval(`document.querySelector("#new-webhook-secret").value`)
	b.do("copy it", chromedp.Click(chromedp.CSS("#copy-webhook-secret")))
	b.wait("the copy is confirmed", `document.querySelector("#status").textContent.startsWith("Copied")
		|| document.querySelector("#status").textContent.startsWith("Select")`)
	if got := b.eval(`document.querySelector("#webhooks-table").textContent`); strings.Contains(got, secret) {
		t.Errorf("the list shows the secret: %q", got)
	}
	s.call("GET", "/api/v3/webhooks", s.adminToken, nil, 200, &list)
	if list.Count != 1 {
		t.Fatalf("webhooks after the create: %+v", list)
	}
	id := list.Results[0].ID
	var hook struct {
		URL, Description string
		Verbs            []string
		Enabled          bool
		Secret           string
	}
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
	if hook.URL != recv.URL+"/hook" || hook.Description != "CRM <sync> & co" || strings.Join(hook.Verbs, " ") != "user.* webhook.test" ||
		!hook.Enabled || hook.Secret != "" {
		t.Errorf("stored webhook: %+v", hook)
	}

	// Its page: a test send reaches the receiver, signed with the secret.
	b.do("open the webhook", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#webhooks-table a[href="#/webhooks/%d"]`, id))))
	b.wait("its page shows, without the secret", `!!document.querySelector("#webhook-test") && !document.querySelector("#new-webhook-secret")
		&& !!document.querySelector("#deliveries-table td.empty")`)
	b.do("send a test event", chromedp.Click(chromedp.CSS("#webhook-test")))
	b.wait("the 2xx result shows", `(() => { const p = document.querySelector("#webhook-test-result .test-ok");
		return !!p && p.dataset.status === "204" && p.textContent.includes("delivered"); })()`)
	tests := recv.of("webhook.test")
	if len(tests) != 1 {
		t.Fatalf("the receiver got %d test events, want 1", len(tests))
	}
	if !signedBy(tests[0], secret) {
		t.Errorf("the test event is not signed with the shown secret: %q", tests[0].sig)
	}
	b.wait("the delivery is listed", `(() => { const rows = document.querySelectorAll("#deliveries-table tbody tr[data-delivery]");
		return rows.length === 1 && rows[0].textContent.includes("test") && rows[0].textContent.includes("204"); })()`)

	// A real activity is delivered by the deliverer and listed too.
	s.call("POST", "/api/v3/users", s.adminToken, map[string]string{"username": "newbie", "email": "newbie@example.com"}, 201, nil)
	deadline := time.Now().Add(10 * time.Second)
	for len(recv.of("user.created")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := recv.of("user.created"); len(got) != 1 || !signedBy(got[0], secret) {
		t.Fatalf("user.created messages: %d (signed: %v)", len(got), len(got) == 1 && signedBy(got[0], secret))
	}
	b.do("refresh the deliveries", chromedp.Click(chromedp.CSS("#deliveries-refresh")))
	b.wait("both deliveries are listed", `(() => { const rows = document.querySelectorAll("#deliveries-table tbody tr[data-delivery]");
		return rows.length === 2 && /#[0-9]+/.test(rows[0].textContent) && rows[0].textContent.includes("204")
			&& document.querySelector("#webhook-last").textContent.includes("204"); })()`)
	b.screenshot("webhook")

	// Disable, then re-enable.
	b.do("disable it", chromedp.Click(chromedp.CSS("#webhook-toggle")))
	b.wait("it shows disabled", `!!document.querySelector("h1 .badge") && document.querySelector("h1 .badge").dataset.state === "disabled"
		&& document.querySelector("#webhook-toggle").textContent === "Re-enable"`)
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
	if hook.Enabled {
		t.Errorf("the webhook is still enabled after Disable")
	}
	b.do("re-enable it", chromedp.Click(chromedp.CSS("#webhook-toggle")))
	b.wait("it shows enabled", `!!document.querySelector("h1 .badge") && document.querySelector("h1 .badge").dataset.state === "enabled"
		&& document.querySelector("#webhook-toggle").textContent === "Disable"`)
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
	if !hook.Enabled {
		t.Errorf("the webhook is not enabled after Re-enable")
	}

	// Edit: a bad URL is refused next to its field and changes nothing;
	// then the description and verbs change.
	b.do("enter a bad URL",
		chromedp.SetValue(chromedp.CSS("#webhook-edit #f-url"), "http://user:pw@example.com/"),
		chromedp.Click(chromedp.CSS("#webhook-save")))
	b.wait("the URL error shows", `document.querySelector("#webhook-edit #err-url").textContent === "Enter an http(s) URL without credentials."
		&& document.querySelector("#webhook-edit #f-url").getAttribute("aria-invalid") === "true"`)
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
	if hook.URL != recv.URL+"/hook" {
		t.Errorf("the refused edit changed the URL to %q", hook.URL)
	}
	b.do("fix it and change the description and verbs",
		chromedp.SetValue(chromedp.CSS("#webhook-edit #f-url"), recv.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS("#webhook-edit #f-description"), "CRM sync v2"),
		chromedp.SetValue(chromedp.CSS("#webhook-edit #f-verbs"), "user.created webhook.test"),
		chromedp.Click(chromedp.CSS("#webhook-save")))
	b.wait("the save shows", `document.querySelector("#status").textContent === "Saved."
		&& document.querySelector("#webhook-facts").textContent.includes("CRM sync v2")
		&& document.querySelector("#webhook-edit #err-url").textContent === ""`)
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
	if hook.Description != "CRM sync v2" || strings.Join(hook.Verbs, " ") != "user.created webhook.test" || hook.URL != recv.URL+"/hook" {
		t.Errorf("after the edit: %+v", hook)
	}

	// Rotate: a new secret, shown once, signs the next test.
	b.do("rotate the secret", chromedp.Click(chromedp.CSS("#webhook-rotate")))
	b.wait("the new secret shows", fmt.Sprintf(`(() => { const i = document.querySelector("#new-webhook-secret");
		return !!i && i.value.startsWith("whsec_") && i.value !== %q; })()`, secret))
	rotated := b.eval(`document.querySelector("#new-webhook-secret").value`)
	b.do("send another test event", chromedp.Click(chromedp.CSS("#webhook-test")))
	b.wait("the second test is listed", `document.querySelectorAll("#deliveries-table tbody tr[data-delivery]").length === 3`)
	if tests = recv.of("webhook.test"); len(tests) != 2 || !signedBy(tests[1], rotated) || !signedBy(tests[1], secret) {
		t.Errorf("after the rotation: %d test events; signed by the new secret %v (and the old, overlapping, %v)",
			len(tests), len(tests) == 2 && signedBy(tests[1], rotated), len(tests) == 2 && signedBy(tests[1], secret))
	}

	// Delete, after the confirmation (Cancel first keeps it).
	b.do("ask to delete and cancel", chromedp.Click(chromedp.CSS("#webhook-delete")))
	b.wait("the dialog opens", `document.querySelector("#webhook-delete-dialog").open`)
	b.do("cancel", chromedp.Click(chromedp.CSS(`#webhook-delete-dialog button[value="cancel"]`)))
	b.wait("the dialog closes", `!document.querySelector("#webhook-delete-dialog").open`)
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, nil)
	b.do("delete it", chromedp.Click(chromedp.CSS("#webhook-delete")))
	b.wait("the dialog opens", `document.querySelector("#webhook-delete-dialog").open`)
	b.do("confirm", chromedp.Click(chromedp.CSS("#webhook-delete-confirm")))
	b.wait("the list is empty again", `location.hash === "#/webhooks" && !!document.querySelector("#webhooks-table td.empty")`)
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 404, nil)

	// A non-admin has no Webhooks page.
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	b.wait("the sign-in form shows", `!!document.querySelector("#signin-form")`)
	b.do("sign in as jsmith",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "smithpass"+kb.Enter))
	b.wait("jsmith is signed in", `document.querySelector("#whoami-name").textContent === "jsmith"`)
	if got := b.eval(`String(document.querySelector("#nav-webhooks").hidden)`); got != "true" {
		t.Errorf("a non-admin sees the Webhooks link")
	}
	b.do("go to the webhooks by hand", chromedp.Evaluate[chromedp.Void](`location.hash = "#/webhooks"`))
	b.wait("the page is not there", `document.querySelector("h1").textContent === "Not found" && !document.querySelector("#webhook-create")`)
	b.checkConsole("the end")
}

// TestWebhookFailuresInBrowser: a webhook for one workspace whose receiver
// answers 410 is disabled by its first delivery; the page shows why, a
// failed test send, the error in the paginated delivery log, and
// re-enables it.
func TestWebhookFailuresInBrowser(t *testing.T) {
	bin := findChromium(t)
	s := startSiteWith(t, withDeliverer)
	var ws struct{ ID int64 }
	s.call("POST", "/api/v3/workspaces", s.adminToken, map[string]string{"name": "Marketing"}, 201, &ws)
	var mu sync.Mutex
	var got []string
	answer := http.StatusGone // until the receiver "comes back"
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct{ Type string }
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		got = append(got, p.Type)
		status := answer
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(gone.Close)
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	b := newBrowser(t, bin)

	b.do("open the console", chromedp.Navigate(s.URL+"/admin/#/webhooks"))
	b.wait("the sign-in form shows", `document.activeElement && document.activeElement.id === "f-username"`)
	b.do("sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "adminpass"+kb.Enter))
	b.wait("the webhooks page shows", `!!document.querySelector("#webhooks-table td.empty")
		&& !!document.querySelector('#f-workspace option[value="`+fmt.Sprint(ws.ID)+`"]')`)
	b.do("create a webhook for Marketing",
		chromedp.SendKeys(chromedp.CSS("#f-url"), gone.URL),
		chromedp.SetValue(chromedp.CSS("#f-workspace"), fmt.Sprint(ws.ID)),
		chromedp.Click(chromedp.CSS("#webhook-submit")))
	b.wait("it is listed", `document.querySelectorAll("#webhooks-table tbody tr[data-webhook]").length === 1
		&& !!document.querySelector("#new-webhook-secret")`)
	var list struct {
		Results []struct {
			ID        int64
			Verbs     []string
			Workspace *int64
		}
	}
	s.call("GET", "/api/v3/webhooks", s.adminToken, nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].Workspace == nil || *list.Results[0].Workspace != ws.ID || len(list.Results[0].Verbs) != 0 {
		t.Fatalf("stored webhooks: %+v", list.Results)
	}
	id := list.Results[0].ID

	// An activity elsewhere is not sent; one in Marketing is, answered 410,
	// which disables the webhook.
	s.call("POST", "/api/v3/activities", s.adminToken, map[string]any{"verb": "document.created"}, 201, nil)
	s.call("POST", "/api/v3/activities", s.adminToken, map[string]any{"verb": "document.shared", "workspace": ws.ID}, 201, nil)
	var hook struct {
		Enabled        bool
		DisabledReason *string
		LastStatus     *int
		FailingSince   *string
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
		if !hook.Enabled {
			break
		}
	}
	if hook.Enabled || hook.DisabledReason == nil || hook.LastStatus == nil || *hook.LastStatus != 410 || hook.FailingSince == nil {
		t.Fatalf("after a 410: %+v", hook)
	}
	if r := received(); len(r) != 1 || r[0] != "document.shared" {
		t.Fatalf("the receiver got %q, want only document.shared", r)
	}

	b.do("reload the list", chromedp.Click(chromedp.CSS(`#nav a[href="#/webhooks"]`)), chromedp.Evaluate[chromedp.Void](`route()`))
	b.wait("the row shows the failure", fmt.Sprintf(`(() => { const row = document.querySelector('#webhooks-table tr[data-webhook="%d"]');
		return !!row && !!row.querySelector('[data-state="disabled"]') && row.querySelector('[data-state="disabled"]').textContent === "disabled: " + %q
			&& row.textContent.includes("410") && row.textContent.includes("Marketing") && !row.lastChild.textContent.includes("—"); })()`, id, *hook.DisabledReason))
	b.do("open it", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#webhooks-table a[href="#/webhooks/%d"]`, id))))
	b.wait("it shows disabled, with why", fmt.Sprintf(`!!document.querySelector("h1 .badge") && document.querySelector("h1 .badge").dataset.state === "disabled"
		&& document.querySelector("#webhook-disabled-reason").textContent === %q
		&& document.querySelector("#webhook-toggle").textContent === "Re-enable"
		&& document.querySelector("#webhook-workspace").textContent === "Marketing"
		&& document.querySelector("#webhook-edit #f-workspace").value === "%d"
		&& [...document.querySelectorAll("#deliveries-table tbody tr[data-delivery]")].some(r => r.textContent.includes("410 Gone"))`, *hook.DisabledReason, ws.ID))

	// A test send to it fails, and says so.
	b.do("send a test event", chromedp.Click(chromedp.CSS("#webhook-test")))
	b.wait("the failure shows", `(() => { const p = document.querySelector("#webhook-test-result .form-error");
		return !!p && p.dataset.status === "410" && p.textContent.includes("Test event failed") && p.textContent.includes("410 Gone"); })()`)
	b.screenshot("webhook-failing")

	// The delivery log pages like the other tables.
	for range 20 {
		s.call("POST", fmt.Sprintf("/api/v3/webhooks/%d/test", id), s.adminToken, nil, 200, nil)
	}
	b.do("refresh", chromedp.Click(chromedp.CSS("#deliveries-refresh")))
	b.wait("page 1 of 2", `document.querySelectorAll("#deliveries-table tbody tr[data-delivery]").length === 20
		&& document.querySelector("#webhook-deliveries .pager").textContent.includes("Page 1 of 2 · 22 results")`)
	b.do("next page", chromedp.Click(chromedp.CSS(`#webhook-deliveries .pager button:last-child`)))
	b.wait("page 2 holds the first two attempts", `(() => { const rows = document.querySelectorAll("#deliveries-table tbody tr[data-delivery]");
		return rows.length === 2 && document.querySelector("#webhook-deliveries .pager").textContent.includes("Page 2 of 2")
			&& rows[1].textContent.includes("410 Gone") && !rows[1].textContent.includes("test"); })()`)

	// The receiver comes back; Re-enable resends the pending message and
	// the failure state goes.
	mu.Lock()
	answer = http.StatusNoContent
	mu.Unlock()
	b.do("re-enable it", chromedp.Click(chromedp.CSS("#webhook-toggle")))
	b.wait("it shows enabled", `!!document.querySelector("h1 .badge") && document.querySelector("h1 .badge").dataset.state === "enabled"
		&& document.querySelector("#webhook-disabled-reason").textContent === "—"`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(received()) < 23; {
		time.Sleep(50 * time.Millisecond)
	}
	if r := received(); len(r) != 23 || r[22] != "document.shared" {
		t.Fatalf("after Re-enable the receiver got %d messages, the last %q; want 23, the last document.shared", len(r), r[len(r)-1])
	}
	b.do("back to page 1", chromedp.Click(chromedp.CSS(`#webhook-deliveries .pager button:first-child`)))
	b.wait("page 1 shows", `document.querySelector("#webhook-deliveries .pager").textContent.includes("Page 1 of 2")`)
	b.do("refresh", chromedp.Click(chromedp.CSS("#deliveries-refresh")))
	b.wait("the resent message is listed, delivered", `(() => { const row = document.querySelector("#deliveries-table tbody tr[data-delivery]");
		return !!row && row.textContent.includes("204") && !row.textContent.includes("test")
			&& document.querySelector("#webhook-last").textContent.includes("204"); })()`)
	hook.DisabledReason, hook.FailingSince = nil, nil
	s.call("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), s.adminToken, nil, 200, &hook)
	if !hook.Enabled || hook.DisabledReason != nil || hook.FailingSince != nil || hook.LastStatus == nil || *hook.LastStatus != 204 {
		t.Errorf("after Re-enable: %+v", hook)
	}

	// Narrow: nothing wider than the window.
	b.do("narrow the window", chromedp.EmulateViewport(390, 844))
	b.wait("the page is laid out", `!!document.querySelector("#deliveries-table")`)
	if w := b.eval(`String(document.documentElement.scrollWidth) + "/" + String(window.innerWidth)`); !narrowOK(w) {
		t.Errorf("webhook page on a 390px window: scrollWidth/innerWidth = %s", w)
	}
	b.checkConsole("the end")
}
