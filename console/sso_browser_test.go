package console_test

import (
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/rosterhq/roster/internal/idptest"
)

// TestSSOInBrowser: an admin adds an OpenID provider on the console's
// Sign-in page; after signing out, the sign-in page shows its button, and
// jdoe (who has no password) signs in through the provider's own sign-in
// page and lands in the console, signed in; the URL keeps no code.
func TestSSOInBrowser(t *testing.T) {
	bin := findChromium(t)
	s := startSite(t)
	idp := idptest.Start(t)
	idp.Interactive = true
	idp.SetClaims(map[string]any{"sub": "okta-jdoe", "email": "jdoe@example.com", "email_verified": true, "preferred_username": "jdoe"})
	b := newBrowser(t, bin)

	b.do("open the console", chromedp.Navigate(s.URL+"/admin/"))
	b.wait("the sign-in form shows, with no provider yet", `document.activeElement && document.activeElement.id === "f-username"
		&& !document.querySelector(".sso-provider")`)
	b.do("sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#f-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "adminpass"+kb.Enter))
	b.wait("admin is signed in", `document.querySelector("#whoami-name").textContent === "admin (admin)"
		&& !document.querySelector("#nav-providers").hidden`)
	b.do("open the sign-in providers", chromedp.Click(chromedp.CSS(`#nav a[href="#/providers"]`)))
	b.wait("the empty list shows", `!!document.querySelector("#providers-table td.empty")`)
	b.do("submit a bad issuer",
		chromedp.SendKeys(chromedp.CSS("#f-name"), "corp"),
		chromedp.SendKeys(chromedp.CSS("#f-displayName"), "Corp SSO"),
		chromedp.SendKeys(chromedp.CSS("#f-issuer"), idp.URL+"/nowhere"),
		chromedp.SendKeys(chromedp.CSS("#f-clientId"), idp.ClientID),
		chromedp.SendKeys(chromedp.CSS("#f-clientSecret"), idp.ClientSecret),
		chromedp.Click(chromedp.CSS("#f-linkByEmail")),
		chromedp.Click(chromedp.CSS("#provider-submit")))
	b.wait("the issuer's error shows", `document.querySelector("#err-issuer").textContent.includes("discovery document")`)
	b.do("fix the issuer",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#f-issuer").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#f-issuer"), idp.URL),
		chromedp.Click(chromedp.CSS("#provider-submit")))
	b.wait("the provider is listed", `!!document.querySelector('#providers-table tr[data-provider="corp"]')`)
	b.screenshot("sso-providers")
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))

	b.wait("the sign-in page offers the provider", `!!document.querySelector('.sso-provider[data-provider="corp"]')
		&& document.querySelector('.sso-provider[data-provider="corp"]').textContent === "Corp SSO"`)
	b.screenshot("sso-signin")
	b.do("sign in with the provider", chromedp.Click(chromedp.CSS(`.sso-provider[data-provider="corp"]`)))
	b.do("approve at the provider's sign-in page", chromedp.WaitVisible(chromedp.CSS("#approve")), chromedp.Click(chromedp.CSS("#approve")))
	b.do("come back to the console", chromedp.WaitVisible(chromedp.CSS("#whoami-name")))
	b.wait("jdoe is signed in to the console", `!!document.querySelector("#whoami-name")
		&& document.querySelector("#whoami-name").textContent === "jdoe" && location.hash === "#/users"`)
	if got := b.eval(`location.href`); got != s.URL+"/admin/#/users" {
		t.Fatalf("the address after sign-in is %q, want no code in it", got)
	}
	var ids []map[string]any
	s.call("GET", "/api/v3/users/"+strconv.FormatInt(s.users["jdoe"], 10)+"/identities", s.adminToken, nil, 200, &ids)
	if len(ids) != 1 || ids[0]["provider"] != "corp" || ids[0]["subject"] != "okta-jdoe" {
		t.Fatalf("jdoe's identities = %v", ids)
	}

	// A code this tab did not ask for (a link someone sent) is ignored,
	// not exchanged: the open session stays jdoe's.
	// (A query makes it a new document, not a fragment change in this one.)
	b.do("open a link carrying a code", chromedp.Navigate(s.URL+"/admin/?from=mail#code=someone-elses-code"),
		chromedp.WaitVisible(chromedp.CSS("#whoami-name")))
	b.wait("the code is ignored with a message, jdoe still signed in", `document.body.textContent.includes("this tab did not start a sign-in")
		&& document.querySelector("#whoami-name") && document.querySelector("#whoami-name").textContent === "jdoe"
		&& !location.href.includes("someone-elses-code")`)
}
