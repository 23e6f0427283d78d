package httpapi

import (
	"net/http"
	"strconv"
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

// handleLogin exchanges a username (or email) and password for a token.
// Unknown users cost one argon2id verification too, and both failures give
// the same 401; consecutive failures lock the account (429) for a while.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r, []string{"username", "password"}, nil)
	if err != nil {
		return err
	}
	b.require("username", "password")
	login, pw := b.str("username"), b.str("password")
	if err := b.err(); err != nil {
		return err
	}
	ctx := r.Context()
	u, hash, err := s.store.FindCredentials(ctx, *login)
	key := "login:" + roster.Fold(*login)
	if err == nil {
		key = "user:" + strconv.FormatInt(u.ID, 10)
	} else if roster.ErrorCode(err) != roster.ENOTFOUND {
		return err
	}
	if until, err := s.store.LoginLockedUntil(ctx, key); err != nil {
		return err
	} else if !until.IsZero() {
		return roster.ErrLoginThrottled(until, s.now())
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
		if _, err := s.store.RecordLoginFailure(ctx, key); err != nil {
			return err
		}
		return errBadCredentials
	}
	secret, tokenHash := roster.NewTokenSecret()
	t := &roster.Token{UserID: u.ID, Hash: tokenHash, Kind: roster.TokenSession, Name: loginSessionName,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: s.now().Add(s.tokenTTL)}
	if err := s.store.CreateSession(ctx, t, key); err != nil {
		return err
	}
	full, err := s.store.FindUserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusCreated, loginResponse{Token: secret, ExpiresAt: apiTime(t.ExpiresAt), User: profile(full)})
}

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
