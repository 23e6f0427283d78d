package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// TestSSOWithMockOIDC signs in through a third-party OpenID provider,
// oauth2-proxy's mockoidc (its own discovery, JWKS, PKCE S256 and nonce
// handling, ID tokens signed by its own RSA key), so the relying party is
// checked against a provider the project did not write, not only against
// internal/idptest: a just-in-time user from its claims, its groups claim
// synced, the second sign-in landing on the same user.
func TestSSOWithMockOIDC(t *testing.T) { eachStore(t, testSSOWithMockOIDC) }

func testSSOWithMockOIDC(t *testing.T) {
	e := newEnv(t)
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	e.do("POST", "/api/v3/auth/providers", e.AdminToken, map[string]any{"name": "mock", "displayName": "Mock OIDC",
		"issuer": m.Issuer(), "clientId": m.ClientID, "clientSecret": m.ClientSecret,
		"scopes": []string{"openid", "email", "profile", "groups"}, "groupsClaim": "groups", "autoCreate": true}).expect(t, http.StatusCreated)

	user := &mockoidc.MockUser{Subject: "mock-ada", Email: "ada@example.com", EmailVerified: true, PreferredUsername: "ada",
		Groups: []string{"engineering", "oncall"}}
	signIn := func() map[string]any {
		t.Helper()
		m.QueueUser(user)
		auth := startSSO(t, e.URL, "mock", "/admin/")
		u, err := url.Parse(auth)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Fatalf("authorization request %s: want PKCE S256, nonce and state", auth)
		}
		frag := finish(t, e.URL, authorize(t, auth), "/admin/")
		if frag.Get("code") == "" {
			t.Fatalf("sign-in through mockoidc ended with %v", frag)
		}
		return e.redeem(frag.Get("code")).expect(t, http.StatusCreated).JSON(t)["user"].(map[string]any)
	}
	first := signIn()
	if first["username"] != "ada" || first["email"] != "ada@example.com" {
		t.Fatalf("just-in-time user %v", first)
	}
	groups := map[string]bool{}
	for _, g := range first["groups"].([]any) {
		groups[g.(map[string]any)["name"].(string)] = true
	}
	if !groups["engineering"] || !groups["oncall"] || len(groups) != 2 {
		t.Fatalf("groups after sign-in: %v, want engineering and oncall", first["groups"])
	}
	user.Groups = []string{"engineering"}
	again := signIn()
	if again["id"] != first["id"] {
		t.Fatalf("second sign-in: user %v, want %v", again["id"], first["id"])
	}
	if gs := again["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["name"] != "engineering" {
		t.Fatalf("groups after the claim dropped oncall: %v", gs)
	}
}
