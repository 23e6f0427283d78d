// Package idptest runs a real OpenID Connect provider on a loopback port
// for tests: discovery, JWKS, an authorization endpoint (with a sign-in
// page when Interactive) and a token endpoint that checks the client, the
// redirect URI and the PKCE (S256) verifier, signing RS256 ID tokens with
// go-jose. Knobs let a test rotate the key, set the claims, and produce
// the bad answers a relying party must refuse (wrong audience, expired,
// bad signature, wrong nonce, HMAC). It is test code: only tests import it.
package idptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Provider is a running test OpenID provider.
type Provider struct {
	URL          string // the issuer
	ClientID     string
	ClientSecret string
	// Interactive makes the authorization endpoint show a sign-in page
	// (for browser tests) instead of approving at once.
	Interactive bool

	srv *httptest.Server

	mu     sync.Mutex
	key    *rsa.PrivateKey
	kid    string
	keys   []jose.JSONWebKey // published
	claims map[string]any    // of the next sign-in
	tamper func(map[string]any)
	bad    string // "signature", "hmac"
	codes  map[string]grant
	nKeys  int
}

type grant struct {
	clientID, redirectURI, nonce, challenge string
	claims                                  map[string]any
}

// Start runs a provider for client "roster" (secret "s3cret") until the
// test ends.
func Start(tb interface {
	Cleanup(func())
	Fatal(...any)
}) *Provider {
	p := &Provider{ClientID: "roster", ClientSecret: "s3cret", codes: map[string]grant{}}
	if err := p.RotateKey(false); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	p.SetClaims(map[string]any{"sub": "u-1", "email": "jane@example.com", "email_verified": true, "preferred_username": "jane"})
	tb.Cleanup(p.srv.Close)
	return p
}

// RotateKey makes a new signing key with a new key id; keepOld keeps
// publishing the old one beside it.
func (p *Provider) RotateKey(keepOld bool) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nKeys++
	p.key, p.kid = k, fmt.Sprintf("key-%d", p.nKeys)
	pub := jose.JSONWebKey{Key: &k.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}
	if keepOld {
		p.keys = append(p.keys, pub)
	} else {
		p.keys = []jose.JSONWebKey{pub}
	}
	return nil
}

// SetClaims sets the claims of the ID tokens of the next sign-ins (iss,
// aud, exp, iat and nonce are added).
func (p *Provider) SetClaims(c map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims = c
}

// Tamper changes the claims of the next ID tokens after the standard ones
// are set (nil: none).
func (p *Provider) Tamper(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = f
}

// BadSignature makes the next ID tokens signed by a key that is not
// published under the published key id ("signature"), with HS256 keyed by
// the client secret ("hmac"), or unsigned (alg "none"); "" restores good
// tokens.
func (p *Provider) BadSignature(kind string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad = kind
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token",
		"jwks_uri": p.URL + "/keys", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
		"scopes_supported": []string{"openid", "email", "profile", "groups"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := append([]jose.JSONWebKey(nil), p.keys...)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: keys})
}

var page = template.Must(template.New("login").Parse(`<!doctype html><title>Test provider sign-in</title>
<h1>Test provider</h1><form method="post" action="/authorize">
{{range $k, $v := .}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
<button id="approve" type="submit">Sign in</button></form>`))

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	q := r.Form
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	if p.Interactive && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, q)
		return
	}
	code := random()
	p.mu.Lock()
	claims := map[string]any{}
	for k, v := range p.claims {
		claims[k] = v
	}
	p.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), claims: claims}
	p.mu.Unlock()
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	code := r.PostForm.Get("code")
	p.mu.Lock()
	g, ok := p.codes[code]
	delete(p.codes, code)
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || g.redirectURI != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	claims := g.claims
	claims["iss"], claims["aud"], claims["iat"], claims["exp"] = p.URL, g.clientID, now.Unix(), now.Add(5*time.Minute).Unix()
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	p.mu.Lock()
	if p.tamper != nil {
		p.tamper(claims)
	}
	key, kid, bad := p.key, p.kid, p.bad
	p.mu.Unlock()
	payload, _ := json.Marshal(claims)
	if bad == "none" { // go-jose will not sign with "none": written by hand
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + kid + `"}`))
		idToken := header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
		writeJSON(w, http.StatusOK, map[string]any{"access_token": random(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
		return
	}
	var sk jose.SigningKey
	switch bad {
	case "signature":
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sk = jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: kid}}
	case "hmac":
		sk = jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: []byte(p.ClientSecret + "-padded-to-more-than-32-bytes-for-HS256"), KeyID: kid}}
	default:
		sk = jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}
	}
	signer, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	idToken, _ := jws.CompactSerialize()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": random(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
