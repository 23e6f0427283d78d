package roster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"
)

// Token is an API bearer token. Only the SHA-256 of its secret is stored,
// with its first characters (Prefix) so that its owner can tell it apart.
type Token struct {
	ID     int64
	UserID int64
	Hash   []byte
	// Kind is TokenSession (made by a login; every scope) or TokenPersonal
	// (made for a program; Scopes). "" is stored as TokenSession.
	Kind       TokenKind
	Name       string
	Scopes     Scopes // of a personal token
	Prefix     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
}

// TokenKind tells login sessions from personal access tokens.
type TokenKind string

// Verbs of the activities recorded for personal tokens.
const (
	VerbTokenCreated = "token.created"
	VerbTokenRevoked = "token.revoked"
)

// Token kinds.
const (
	TokenSession  TokenKind = "session"
	TokenPersonal TokenKind = "personal"
)

// Personal token lifetimes: the default, and how far ahead expiresAt may be.
const (
	DefaultPersonalTokenTTL = 90 * 24 * time.Hour
	MaxPersonalTokenTTL     = 366 * 24 * time.Hour
	MaxTokenNameLen         = 100
	TokenPrefixLen          = 8
)

// EffectiveScopes returns what a token of kind with scopes may do for
// owner now: a session has every scope the owner may hold, a personal token
// its own scopes narrowed to those. It is computed on every request, so that
// demoting an admin narrows the admin's tokens at once.
func EffectiveScopes(kind TokenKind, scopes Scopes, owner *User) Scopes {
	if kind != TokenPersonal {
		scopes = EveryScope
	}
	return scopes & ScopesFor(owner)
}

// DefaultTokenTTL is the life of a token made by login or by the CLI.
const DefaultTokenTTL = 720 * time.Hour

// Login throttling: after MaxLoginFailures consecutive failures an account is
// locked for LoginLockout, doubled for each further failure up to LoginLockoutMax.
const (
	MaxLoginFailures = 20
	LoginLockout     = time.Minute
	LoginLockoutMax  = 15 * time.Minute
)

// Bounds of the stored login throttle: a row not touched for
// LoginThrottleTTL is forgotten, and at most MaxLoginThrottleNames rows
// keyed by login name (LoginNameKey) are kept, the least recently failed
// going first. Account rows (AccountKey) are bounded by the users.
const (
	LoginThrottleTTL      = 24 * time.Hour
	MaxLoginThrottleNames = 100_000
)

// MaxLoginNameLen is the longest login name that can name a user (the
// longest email); a longer one is refused without being looked up or stored.
const MaxLoginNameLen = MaxEmailLen

// AccountKey is the login throttle key of an account.
func AccountKey(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// LoginNameKey is the login throttle key of a login name as typed (case
// folded), hashed so that a row has a fixed size and never holds what was
// typed (sometimes a password). ok is false for a name longer than
// MaxLoginNameLen, which no user can have and which is never stored.
func LoginNameKey(login string) (key string, ok bool) {
	if utf8.RuneCountInString(login) > MaxLoginNameLen {
		return "", false
	}
	return "login:" + LoginNameHash(login), true
}

// LoginNameHash is a login name as typed, case folded and hashed (128 bits
// of SHA-256 in hex): what logs of failed logins carry instead of the name,
// which is sometimes a password typed in the wrong field.
func LoginNameHash(login string) string {
	sum := sha256.Sum256([]byte(Fold(login)))
	return hex.EncodeToString(sum[:16])
}

// Session is what a valid token proves: who is calling, with which token,
// and what the token may be used for.
type Session struct {
	TokenID   int64
	TokenKind TokenKind
	// Scopes are the token's own (every scope for a session); Allows
	// narrows them to the owner's rights.
	Scopes Scopes
	User   *User
}

// Allows reports whether the session's token may be used for an operation
// that needs scope.
func (s *Session) Allows(scope Scope) bool {
	return EffectiveScopes(s.TokenKind, s.Scopes, s.User).Has(scope)
}

// AuthService stores credentials and tokens.
type AuthService interface {
	// FindCredentials returns the user, active or not, whose username or
	// email equals login case-insensitively (a username match first when
	// one user's username is another's email), and its password hash (""
	// when it has no usable password). ENOTFOUND when there is none. The
	// caller decides what an inactive user may do.
	FindCredentials(ctx context.Context, login string) (*User, string, error)
	// FindPasswordHash returns the password hash of user id.
	FindPasswordHash(ctx context.Context, id int64) (string, error)
	// CreateSession stores t, sets the user's lastLogin to now, clears the
	// login throttle of every key given and records auth.login, in one
	// transaction; ETHROTTLED (and no session) when the first key is locked
	// by then.
	CreateSession(ctx context.Context, t *Token, throttleKeys ...string) error
	// CreateToken stores t without any other effect (personal tokens, the
	// CLI) and sets its ID and CreatedAt.
	CreateToken(ctx context.Context, t *Token) error
	// FindTokens returns one page of the unexpired tokens of user userID,
	// newest first, and their total.
	FindTokens(ctx context.Context, userID int64, p Page) ([]*Token, int, error)
	// FindToken returns token id (unexpired), ENOTFOUND when there is none.
	FindToken(ctx context.Context, id int64) (*Token, error)
	// IssueToken stores the personal token t and records token.created by
	// actor in the same transaction.
	IssueToken(ctx context.Context, actor int64, t *Token) error
	// RevokeToken deletes token id and records token.revoked by actor;
	// ENOTFOUND when there is no such token.
	RevokeToken(ctx context.Context, actor, id int64) error
	// MarkTokenUsed records that token id authenticated a request at at.
	// It only touches memory: the store writes lastUsedAt in batches.
	MarkTokenUsed(id int64, at time.Time)
	// FindSession returns the session of an unexpired token hash whose user
	// is active and not deleted; EUNAUTHORIZED otherwise.
	FindSession(ctx context.Context, hash []byte) (*Session, error)
	// DeleteToken revokes a token.
	DeleteToken(ctx context.Context, id int64) error

	// LoginLockedUntil returns when the throttle of key ends (zero if none).
	LoginLockedUntil(ctx context.Context, key string) (time.Time, error)
	// RecordLoginFailure counts one failure for each key and returns the
	// time until which the last key is now locked (zero if not locked). If
	// any key is already locked nothing is counted: ETHROTTLED, so that
	// attempts racing the lock are refused like the ones after it. Rows
	// older than LoginThrottleTTL are forgotten and at most
	// MaxLoginThrottleNames login-name rows are kept.
	RecordLoginFailure(ctx context.Context, keys ...string) (time.Time, error)
}

// ErrLoginThrottled is the 429 of a login to an account locked until until.
func ErrLoginThrottled(until, now time.Time) error {
	return &Error{Code: ETHROTTLED, Message: "Too many failed login attempts; try again later.", RetryAfter: until.Sub(now)}
}

// LockoutFor returns how long an account with n consecutive failures stays locked.
func LockoutFor(n int) time.Duration {
	if n < MaxLoginFailures {
		return 0
	}
	d := LoginLockout
	for i := MaxLoginFailures; i < n && d < LoginLockoutMax; i++ {
		d *= 2
	}
	return min(d, LoginLockoutMax)
}

// NewTokenSecret returns a new bearer token (256 random bits, URL-safe) and
// the SHA-256 hash under which it is stored.
func NewTokenSecret() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	secret := "rst_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}

// TokenPrefix returns the part of a secret that is kept and shown.
func TokenPrefix(secret string) string { return secret[:min(len(secret), TokenPrefixLen)] }

// HashToken returns the stored form of a bearer token.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
