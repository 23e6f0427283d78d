package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

var errBadCredentials = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "Unable to log in with the provided credentials."}

type loginResponse struct {
	Token     string      `json:"token"`
	ExpiresAt apiTime     `json:"expiresAt"`
	User      userProfile `json:"user"`
}

const errClientThrottled = "Too many failed login attempts from this address; try again later."

// loginFailed counts a failed password login and logs it at warn level
// with the login name's hash (never the name: it is sometimes a password),
// the client address after trusted proxies and the request id, so that
// fail2ban or a SIEM can act on it. locked: this failure locked the name
// or account.
func (s *Server) loginFailed(r *http.Request, login, result string, locked bool) {
	s.metrics.logins.WithLabelValues(result).Inc()
	if locked {
		s.metrics.lockouts.Inc()
	}
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "login failed", slog.String("result", result),
		slog.String("login_hash", roster.LoginNameHash(login)), slog.String("client", clientIP(r)),
		slog.Bool("locked", locked), slog.String("request_id", requestID(r)))
}

// handleLogin exchanges a username (or email) and password for a token.
//
// Failures are counted three ways, all checked before the password is:
// per client address (in memory, LoginFailuresPerMinute, so that no client
// keeps the argon2id workers busy), per login name as typed, and per
// account (both stored, roster.MaxLoginFailures consecutive ones lock).
// A name's own lock answers 429; an account locked through another of its
// names answers the 401 an unknown name gets (after the same argon2id
// work), so a 429 never ties one login name to another. Unknown users cost
// one argon2id verification too, and every failure gives the same 401.
//
// With {"code"} instead, it exchanges the one-time code of a single
// sign-on (see handleOIDCCallback) for a session.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r, []string{"username", "password", "code"}, nil)
	if err != nil {
		return err
	}
	if b.has("code") {
		return s.redeemLoginCode(w, r, b)
	}
	if !s.passwordLogin {
		return errNoPasswordLogin
	}
	b.require("username", "password")
	login, pw := b.str("username"), b.str("password")
	if err := b.err(); err != nil {
		return err
	}
	ctx := r.Context()
	client := clientAddress(r)
	if ok, wait := s.loginLimit.take(client, s.now()); !ok {
		s.loginFailed(r, *login, loginThrottled, false)
		return &roster.Error{Code: roster.ETHROTTLED, Message: errClientThrottled, RetryAfter: wait}
	}
	nameKey, storable := roster.LoginNameKey(*login)
	var u *roster.User
	var hash string
	if storable { // a longer name names nobody: not looked up, not stored
		u, hash, err = s.store.FindCredentials(ctx, *login)
		if err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
			return err
		}
		if until, err := s.store.LoginLockedUntil(ctx, nameKey); err != nil {
			return err
		} else if !until.IsZero() {
			s.loginFailed(r, *login, loginLocked, false)
			return roster.ErrLoginThrottled(until, s.now())
		}
	}
	var keys []string // what a failure counts against
	if storable {
		keys = append(keys, nameKey)
	}
	if u != nil {
		accountKey := roster.AccountKey(u.ID)
		if until, err := s.store.LoginLockedUntil(ctx, accountKey); err != nil {
			return err
		} else if !until.IsZero() {
			u = nil // locked through another name: answer as for an unknown one
		} else {
			keys = append(keys, accountKey)
		}
	}
	ok := false
	if u == nil {
		err = s.hasher.VerifyDummy(ctx, *pw)
	} else {
		ok, err = s.hasher.Verify(ctx, *pw, hash)
	}
	if err != nil {
		return err
	}
	if !ok || !u.IsActive || u.IsService { // a service account has no password; refuse it in any case
		locked := false
		if len(keys) > 0 {
			until, err := s.store.RecordLoginFailure(ctx, keys...)
			if err != nil {
				return err
			}
			locked = !until.IsZero()
		}
		s.loginFailed(r, *login, loginFailure, locked)
		return errBadCredentials
	}
	s.metrics.logins.WithLabelValues(loginSuccess).Inc()
	s.loginLimit.give(client, s.now()) // only failures count against the address
	secret, tokenHash := roster.NewTokenSecret()
	t := &roster.Token{UserID: u.ID, Hash: tokenHash, Kind: roster.TokenSession, Name: loginSessionName,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: s.now().Add(s.tokenTTL)}
	clear := []string{roster.AccountKey(u.ID), nameKey}
	for _, n := range []string{u.Username, u.Email} {
		if k, ok := roster.LoginNameKey(n); ok {
			clear = append(clear, k)
		}
	}
	if err := s.store.CreateSession(ctx, t, clear...); err != nil {
		return err
	}
	return s.writeSession(w, r, secret, t)
}

var errNoPasswordLogin = roster.Errorf(roster.EFORBIDDEN, "Password sign-in is turned off on this server; sign in with single sign-on.")

// writeSession answers a login with the new session token t (secret) and
// its user's full profile.
func (s *Server) writeSession(w http.ResponseWriter, r *http.Request, secret string, t *roster.Token) error {
	full, err := s.store.FindUserByID(r.Context(), t.UserID)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusCreated, loginResponse{Token: secret, ExpiresAt: apiTime(t.ExpiresAt), User: profile(full)})
}

// redeemLoginCode exchanges a single sign-on's one-time code (body
// {"code"} alone) for a session token: once, within roster.LoginCodeTTL.
func (s *Server) redeemLoginCode(w http.ResponseWriter, r *http.Request, b *body) error {
	if b.has("username") || b.has("password") {
		return roster.Errorf(roster.EINVALID, "Send either a code or a username and password.")
	}
	code := b.str("code")
	if err := b.err(); err != nil {
		return err
	}
	if err := s.ssoThrottle(r); err != nil {
		return err
	}
	if *code == "" || len(*code) > 256 {
		return errBadCode
	}
	secret, tokenHash := roster.NewTokenSecret()
	t := &roster.Token{Hash: tokenHash, Kind: roster.TokenSession, Name: loginSessionName,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: s.now().Add(s.tokenTTL)}
	if err := s.store.RedeemLoginCode(r.Context(), roster.HashToken(*code), t); err != nil {
		return err
	}
	return s.writeSession(w, r, secret, t)
}

var errBadCode = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "This sign-in code is unknown, already used or expired."}

// handleLogout revokes the token that authenticated the request.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteToken(r.Context(), session(r).TokenID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	return encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz reports whether the database answers within two seconds.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := contextWithTimeout(r, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "error", err.Error())
		return roster.Errorf(roster.EUNAVAILABLE, "The database is not reachable.")
	}
	return encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, err := w.Write(api.OpenAPI)
	return err
}
