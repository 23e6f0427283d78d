package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// OIDC is the OpenID Connect relying party the single sign-on routes use
// (package oidc).
type OIDC interface {
	// Discover loads issuer's discovery document; EINVALID (field issuer)
	// saying why it does not load.
	Discover(ctx context.Context, issuer string) error
	// AuthCodeURL is the provider's authorization URL for a sign-in.
	AuthCodeURL(ctx context.Context, p *roster.AuthProvider, callback, state, verifier, nonce string) (string, error)
	// Exchange redeems code and returns the verified ID token's claims; a
	// failed verification wraps an error that is not a *roster.Error.
	Exchange(ctx context.Context, p *roster.AuthProvider, callback, code, verifier, nonce string) (*roster.ProviderClaims, error)
}

var errNoSSO = roster.Errorf(roster.EUNAVAILABLE, "Single sign-on is not configured on this server.")

type providerPublicJSON struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Type        string `json:"type"`
}

type providerJSON struct {
	providerPublicJSON
	Issuer              string   `json:"issuer"`
	ClientID            string   `json:"clientId"`
	HasClientSecret     bool     `json:"hasClientSecret"`
	Scopes              []string `json:"scopes"`
	UsernameClaim       string   `json:"usernameClaim"`
	GroupsClaim         string   `json:"groupsClaim"`
	AutoCreate          bool     `json:"autoCreate"`
	LinkByEmail         bool     `json:"linkByEmail"`
	AllowedEmailDomains []string `json:"allowedEmailDomains"`
	Enabled             bool     `json:"enabled"`
	CreatedAt           apiTime  `json:"createdAt"`
}

func providerOut(p *roster.AuthProvider) providerJSON {
	out := providerJSON{providerPublicJSON: providerPublicJSON{Name: p.Name, DisplayName: p.DisplayName, Type: "oidc"},
		Issuer: p.Issuer, ClientID: p.ClientID, HasClientSecret: p.ClientSecret != "", Scopes: p.Scopes,
		UsernameClaim: p.UsernameClaim, GroupsClaim: p.GroupsClaim, AutoCreate: p.AutoCreate, LinkByEmail: p.LinkByEmail,
		AllowedEmailDomains: p.AllowedEmailDomains, Enabled: p.Enabled, CreatedAt: apiTime(p.CreatedAt)}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if out.AllowedEmailDomains == nil {
		out.AllowedEmailDomains = []string{}
	}
	return out
}

var providerFields = []string{"name", "displayName", "issuer", "clientId", "clientSecret", "scopes", "usernameClaim", "groupsClaim",
	"autoCreate", "linkByEmail", "allowedEmailDomains", "enabled"}

var providerReadOnly = []string{"type", "hasClientSecret", "createdAt"}

// readProviderFields reads the writable fields present in b (name apart).
func readProviderFields(b *body) roster.AuthProviderUpdate {
	var upd roster.AuthProviderUpdate
	trim := func(v *string) *string {
		if v != nil {
			*v = strings.TrimSpace(*v)
		}
		return v
	}
	upd.DisplayName, upd.Issuer, upd.ClientID = trim(b.str("displayName")), trim(b.str("issuer")), trim(b.str("clientId"))
	upd.ClientSecret, upd.UsernameClaim, upd.GroupsClaim = b.str("clientSecret"), trim(b.str("usernameClaim")), trim(b.str("groupsClaim"))
	list := func(name, msg string, lower bool) *[]string {
		raw, ok := b.raw[name]
		if !ok {
			return nil
		}
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil || v == nil {
			b.errors.Add(name, msg)
			return nil
		}
		for i := range v {
			v[i] = strings.TrimSpace(v[i])
			if lower {
				v[i] = strings.ToLower(v[i])
			}
		}
		return &v
	}
	upd.Scopes = list("scopes", "Expected a list of scope names.", false)
	upd.AllowedEmailDomains = list("allowedEmailDomains", "Expected a list of domain names.", true)
	upd.AutoCreate, upd.LinkByEmail, upd.Enabled = b.boolean("autoCreate"), b.boolean("linkByEmail"), b.boolean("enabled")
	return upd
}

// optionalAdmin returns the user of a valid bearer token that may read the
// providers' configuration (an admin whose token holds users:read), or nil.
func (s *Server) optionalAdmin(r *http.Request) (*roster.User, error) {
	tok := bearerToken(r)
	if tok == "" {
		return nil, nil
	}
	sess, err := s.store.FindSession(r.Context(), roster.HashToken(tok))
	if roster.ErrorCode(err) == roster.EUNAUTHORIZED {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if !sess.User.IsAdmin || !sess.Allows(roster.ScopeUsersRead) {
		return nil, nil
	}
	return sess.User, nil
}

// handleProviderList answers everyone with the enabled providers (what a
// sign-in page shows); an admin's token gets every provider in full.
func (s *Server) handleProviderList(w http.ResponseWriter, r *http.Request) error {
	admin, err := s.optionalAdmin(r)
	if err != nil {
		return err
	}
	list, err := s.store.FindAuthProviders(r.Context())
	if err != nil {
		return err
	}
	if admin != nil {
		w.Header().Set("Cache-Control", "no-store")
		out := make([]providerJSON, 0, len(list))
		for _, p := range list {
			out = append(out, providerOut(p))
		}
		return encode(w, http.StatusOK, out)
	}
	out := []providerPublicJSON{}
	for _, p := range list {
		if p.Enabled {
			out = append(out, providerPublicJSON{Name: p.Name, DisplayName: p.DisplayName, Type: "oidc"})
		}
	}
	return encode(w, http.StatusOK, out)
}

// readProviderBody checks that an admin asks on a server with single
// sign-on, and reads a provider's body (requiring the names given).
func (s *Server) readProviderBody(w http.ResponseWriter, r *http.Request, required ...string) (*string, roster.AuthProviderUpdate, error) {
	var upd roster.AuthProviderUpdate
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return nil, upd, err
	}
	if s.oidc == nil {
		return nil, upd, errNoSSO
	}
	b, err := decodeBody(w, r, providerFields, providerReadOnly)
	if err != nil {
		return nil, upd, err
	}
	b.require(required...)
	name := b.str("name")
	upd = readProviderFields(b)
	return name, upd, b.err()
}

func (s *Server) handleProviderCreate(w http.ResponseWriter, r *http.Request) error {
	name, upd, err := s.readProviderBody(w, r, "name", "displayName", "issuer", "clientId")
	if err != nil {
		return err
	}
	p := upd.Apply(roster.AuthProvider{Name: strings.TrimSpace(*name), Scopes: roster.DefaultProviderScopes,
		UsernameClaim: roster.DefaultUsernameClaim, Enabled: true, AllowedEmailDomains: []string{}})
	if err := roster.ValidateAuthProvider(&p); err != nil {
		return err
	}
	if err := s.oidc.Discover(r.Context(), p.Issuer); err != nil {
		return err
	}
	if err := s.store.CreateAuthProvider(r.Context(), viewer(r).ID, &p); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v3/auth/providers/"+p.Name)
	return encode(w, http.StatusCreated, providerOut(&p))
}

func (s *Server) handleProviderGet(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	p, err := s.store.FindAuthProvider(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, providerOut(p))
}

func (s *Server) handleProviderPatch(w http.ResponseWriter, r *http.Request) error {
	name, upd, err := s.readProviderBody(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	old, err := s.store.FindAuthProvider(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	if name != nil && *name != old.Name {
		return roster.FieldError(roster.EINVALID, "name", "A provider's name cannot change.")
	}
	n := upd.Apply(*old)
	if err := roster.ValidateAuthProvider(&n); err != nil {
		return err
	}
	if n.Issuer != old.Issuer {
		// The secret goes to the issuer's token endpoint: a new issuer
		// gets it only from whoever knows it, never from the stored one.
		if upd.ClientSecret == nil {
			return roster.FieldError(roster.EINVALID, "clientSecret", "Required when the issuer changes.")
		}
		if err := s.oidc.Discover(ctx, n.Issuer); err != nil {
			return err
		}
	}
	p, err := s.store.UpdateAuthProvider(ctx, viewer(r).ID, old.Name, upd)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, providerOut(p))
}

func (s *Server) handleProviderDelete(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	if err := s.store.DeleteAuthProvider(r.Context(), viewer(r).ID, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// randomToken returns n random bytes, URL-safe base64.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkRedirect accepts a path on this server ("/admin/") or an absolute
// URL whose origin is listed in AllowedRedirectOrigins; anything else
// (another host, "//host", a backslash, a scheme-relative trick) is 400.
func (s *Server) checkRedirect(raw string) (string, error) {
	bad := roster.FieldError(roster.EINVALID, "redirect_uri", "Enter a path on this server or a URL at an allowed origin.")
	if raw == "" {
		return "", roster.FieldError(roster.EINVALID, "redirect_uri", roster.MsgRequired)
	}
	if len(raw) > 2048 || strings.ContainsAny(raw, "\\#") || !roster.ValidText(raw, false) {
		return "", bad
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return "", bad
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
			return "", bad
		}
		return raw, nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !slices.Contains(s.redirectOrigins, u.Scheme+"://"+strings.ToLower(u.Host)) {
		return "", bad
	}
	return raw, nil
}

// callbackURL is the absolute URL of provider name's callback on this
// server, as registered at the provider.
func callbackURL(r *http.Request, name string) string {
	origin := "http://" + r.Host
	if e, ok := edgeOf(r); ok {
		origin = e.origin
	}
	return strings.TrimSuffix(origin, "/") + "/api/v3/auth/oidc/" + url.PathEscape(name) + "/callback"
}

var errProviderDisabled = roster.Errorf(roster.EFORBIDDEN, "This provider is disabled.")

// handleOIDCLogin starts a sign-in: it stores the state (with the PKCE
// verifier, nonce and redirect_uri) and sends the browser to the provider.
func (s *Server) handleOIDCLogin(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return errNoSSO
	}
	if err := s.ssoThrottle(r); err != nil {
		return err
	}
	ctx := r.Context()
	redirect, err := s.checkRedirect(r.URL.Query().Get("redirect_uri"))
	if err != nil {
		return err
	}
	p, err := s.store.FindAuthProvider(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	if !p.Enabled {
		return errProviderDisabled
	}
	state, verifier, nonce := randomToken(32), randomToken(32), randomToken(24)
	st := &roster.LoginState{Hash: roster.HashToken(state), Provider: p.Name, Verifier: verifier, Nonce: nonce, RedirectURI: redirect,
		ExpiresAt: s.now().Add(roster.LoginStateTTL)}
	target, err := s.oidc.AuthCodeURL(ctx, p, callbackURL(r, p.Name), state, verifier, nonce)
	if err != nil {
		return err
	}
	if err := s.store.CreateLoginState(ctx, st); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// Reasons the callback sends the browser in "#error=" besides the
// refusals of roster.SignInRefusal.
const (
	reasonDenied     = "access_denied"
	reasonInvalid    = "invalid_token"
	reasonDisabled   = "provider_disabled"
	reasonUnavailble = "provider_unavailable"
)

// handleOIDCCallback finishes a sign-in: state (once, on any instance),
// code exchange and ID token verification, then the user; the browser
// goes back to redirect_uri with a one-time code (or an error) in the
// fragment, never a token in a URL.
func (s *Server) handleOIDCCallback(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return errNoSSO
	}
	if err := s.ssoThrottle(r); err != nil {
		return err
	}
	ctx := r.Context()
	q := r.URL.Query()
	if q.Get("state") == "" {
		return roster.FieldError(roster.EINVALID, "state", roster.MsgRequired)
	}
	st, err := s.store.TakeLoginState(ctx, roster.HashToken(q.Get("state")))
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return roster.Errorf(roster.EINVALID, "%s", roster.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	name := r.PathValue("name")
	if st.Provider != name {
		return roster.Errorf(roster.EINVALID, "This sign-in was started at another provider.")
	}
	back := func(params url.Values) error {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, st.RedirectURI+"#"+params.Encode(), http.StatusFound)
		return nil
	}
	fail := func(reason string) error { return back(url.Values{"error": {reason}}) }
	if q.Get("error") != "" || q.Get("code") == "" {
		return fail(reasonDenied)
	}
	p, err := s.store.FindAuthProvider(ctx, name)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return fail(reasonDisabled)
	} else if err != nil {
		return err
	}
	if !p.Enabled {
		return fail(reasonDisabled)
	}
	claims, err := s.oidc.Exchange(ctx, p, callbackURL(r, name), q.Get("code"), st.Verifier, st.Nonce)
	if err != nil {
		var re *roster.Error
		if errors.As(err, &re) {
			if re.Code == roster.EUNAVAILABLE {
				return fail(reasonUnavailble)
			}
			return err
		}
		s.log.WarnContext(ctx, "single sign-on: identity not verified", "provider", name, "error", err.Error())
		return fail(reasonInvalid)
	}
	code := randomToken(32)
	if _, err := s.store.SignIn(ctx, p, claims, roster.HashToken(code), s.now().Add(roster.LoginCodeTTL)); err != nil {
		if e, ok := asError(err); ok && e.Reason != "" {
			return fail(e.Reason)
		}
		return err
	}
	return back(url.Values{"code": {code}})
}

type identityJSON struct {
	Provider    string   `json:"provider"`
	Subject     string   `json:"subject"`
	Email       string   `json:"email"`
	LinkedAt    apiTime  `json:"linkedAt"`
	LastLoginAt *apiTime `json:"lastLoginAt"`
}

func (s *Server) handleIdentityList(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	if !roster.CanEditUser(viewer(r), id) {
		return roster.ErrForbidden()
	}
	if err := s.store.UserExists(r.Context(), id); err != nil {
		return err
	}
	list, err := s.store.FindIdentities(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]identityJSON, 0, len(list))
	for _, i := range list {
		out = append(out, identityJSON{Provider: i.Provider, Subject: i.Subject, Email: i.Email, LinkedAt: apiTime(i.LinkedAt), LastLoginAt: optTime(i.LastLoginAt)})
	}
	return encode(w, http.StatusOK, out)
}

func (s *Server) handleIdentityDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	if !roster.CanEditUser(viewer(r), id) {
		return roster.ErrForbidden()
	}
	if err := s.store.DeleteIdentity(r.Context(), viewer(r).ID, id, r.PathValue("provider"), s.passwordLogin); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Bounds of the single sign-on steps per client address (ssoLimit): far
// above what people signing in need, and a flood's writes stay bounded.
const (
	ssoRate  = 2.0
	ssoBurst = 120
)

// ssoThrottle spends one of the client address's single sign-on steps, or
// answers 429 when it has none left.
func (s *Server) ssoThrottle(r *http.Request) error {
	if ok, wait := s.ssoLimit.take(clientAddress(r), s.now()); !ok {
		return &roster.Error{Code: roster.ETHROTTLED, Message: "Too many sign-in requests from this address; try again later.", RetryAfter: wait}
	}
	return nil
}
