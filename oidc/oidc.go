// Package oidc is Roster's OpenID Connect relying party: discovery, the
// authorization code flow with PKCE, and ID token verification, through
// github.com/coreos/go-oidc and golang.org/x/oauth2 (no hand-written JOSE).
package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/rosterhq/roster"
	"golang.org/x/oauth2"
)

// signingAlgs are the ID token algorithms accepted: asymmetric ones only,
// so "none" and the HMAC algorithms (whose key would be the client secret)
// are refused whatever a provider's discovery document says.
var signingAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA,
}

// discoveryTTL is how long a provider's discovery document (and with it its
// key set, which follows key rotation by itself) is reused.
const discoveryTTL = time.Hour

// Client talks to OpenID providers. Its cache of discovered providers is
// its own (no global state); it is safe for concurrent use.
type Client struct {
	http *http.Client
	now  func() time.Time

	mu        sync.Mutex
	providers map[string]cached // by issuer
}

type cached struct {
	p  *gooidc.Provider
	at time.Time
}

// New returns a Client that reaches providers with hc (nil: a client with a
// 10 s timeout) and checks token expiry by clock.
func New(hc *http.Client, clock roster.Clock) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if clock == nil {
		clock = roster.SystemClock{}
	}
	return &Client{http: hc, now: clock.Now, providers: map[string]cached{}}
}

// provider returns the discovered provider of issuer, loading its discovery
// document when it is not cached (or fresh is set).
func (c *Client) provider(ctx context.Context, issuer string, fresh bool) (*gooidc.Provider, error) {
	c.mu.Lock()
	e, ok := c.providers[issuer]
	c.mu.Unlock()
	if ok && !fresh && c.now().Sub(e.at) < discoveryTTL {
		return e.p, nil
	}
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, c.http), issuer)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.providers[issuer] = cached{p: p, at: c.now()}
	c.mu.Unlock()
	return p, nil
}

// Discover loads the discovery document of issuer; an EINVALID error for
// the issuer field says why it does not load.
func (c *Client) Discover(ctx context.Context, issuer string) error {
	p, err := c.provider(ctx, issuer, true)
	if err != nil {
		return roster.FieldError(roster.EINVALID, "issuer", "The issuer's discovery document did not load: "+describe(err))
	}
	if p.Endpoint().AuthURL == "" || p.Endpoint().TokenURL == "" {
		return roster.FieldError(roster.EINVALID, "issuer", "The issuer's discovery document names no authorization or token endpoint.")
	}
	return nil
}

// describe says why discovery failed without echoing a body at length.
func describe(err error) string {
	var mismatch *gooidc.IssuerMismatchError
	if errors.As(err, &mismatch) {
		return fmt.Sprintf("it names the issuer %q.", mismatch.Discovered)
	}
	msg := strings.TrimSpace(err.Error())
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

func config(p *roster.AuthProvider, ep oauth2.Endpoint, callback string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: ep, RedirectURL: callback, Scopes: p.Scopes}
}

// AuthCodeURL returns the provider's authorization URL for a sign-in with
// state, nonce and the PKCE (S256) challenge of verifier, coming back to
// callback.
func (c *Client) AuthCodeURL(ctx context.Context, p *roster.AuthProvider, callback, state, verifier, nonce string) (string, error) {
	op, err := c.provider(ctx, p.Issuer, false)
	if err != nil {
		return "", roster.Errorf(roster.EUNAVAILABLE, "The identity provider cannot be reached.")
	}
	return config(p, op.Endpoint(), callback).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)), nil
}

// ErrVerification is returned (wrapped) when the provider's answer does not
// prove an identity: a failed code exchange, a missing or invalid ID token
// (signature, issuer, audience, expiry) or a nonce that is not the one sent.
var ErrVerification = errors.New("oidc: the identity could not be verified")

// Exchange redeems code (with the PKCE verifier) at the provider's token
// endpoint and verifies the ID token it returns: its signature against the
// provider's key set (refetched for a key id it does not know, so rotation
// is followed), iss, aud, exp and nonce. It returns the claims Roster uses.
func (c *Client) Exchange(ctx context.Context, p *roster.AuthProvider, callback, code, verifier, nonce string) (*roster.ProviderClaims, error) {
	op, err := c.provider(ctx, p.Issuer, false)
	if err != nil {
		return nil, roster.Errorf(roster.EUNAVAILABLE, "The identity provider cannot be reached.")
	}
	tok, err := config(p, op.Endpoint(), callback).Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.http), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: code exchange: %v", ErrVerification, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, fmt.Errorf("%w: no id_token in the token response", ErrVerification)
	}
	verifier2 := op.VerifierContext(gooidc.ClientContext(ctx, c.http), &gooidc.Config{ClientID: p.ClientID, SupportedSigningAlgs: signingAlgs, Now: c.now})
	idt, err := verifier2.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVerification, err)
	}
	if idt.Nonce != nonce {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrVerification)
	}
	var all map[string]json.RawMessage
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrVerification, err)
	}
	cl := &roster.ProviderClaims{Subject: idt.Subject}
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(all[name], &s)
		return strings.TrimSpace(s)
	}
	cl.Email, cl.GivenName, cl.FamilyName, cl.Username = str("email"), str("given_name"), str("family_name"), str(p.UsernameClaim)
	var verified any
	_ = json.Unmarshal(all["email_verified"], &verified)
	cl.EmailVerified = verified == true || verified == "true" // some providers send the string
	if p.GroupsClaim != "" {
		cl.Groups = []string{}
		if raw, ok := all[p.GroupsClaim]; ok {
			var groups []string
			if err := json.Unmarshal(raw, &groups); err != nil {
				return nil, fmt.Errorf("%w: the %s claim is not a list of names", ErrVerification, p.GroupsClaim)
			}
			cl.Groups = groups
		}
	}
	if cl.Subject == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrVerification)
	}
	return cl, nil
}
