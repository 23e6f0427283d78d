package roster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Token is an API bearer token. Only the SHA-256 of its secret is stored.
type Token struct {
	ID        int64
	UserID    int64
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
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

// Session is what a valid token proves: who is calling and with which token.
type Session struct {
	TokenID int64
	User    *User
}

// AuthService stores credentials and tokens.
type AuthService interface {
	// FindCredentials returns the active user whose username or email equals
	// login case-insensitively, and its password hash ("" when it has no
	// usable password). ENOTFOUND when there is none.
	FindCredentials(ctx context.Context, login string) (*User, string, error)
	// FindPasswordHash returns the password hash of user id.
	FindPasswordHash(ctx context.Context, id int64) (string, error)
	// CreateSession stores t, sets the user's lastLogin to now, clears the
	// login throttle of key and records auth.login, in one transaction;
	// ETHROTTLED (and no session) when key is locked by then.
	CreateSession(ctx context.Context, t *Token, throttleKey string) error
	// CreateToken stores t without any other effect (used by the CLI).
	CreateToken(ctx context.Context, t *Token) error
	// FindSession returns the session of an unexpired token hash whose user
	// is active and not deleted; EUNAUTHORIZED otherwise.
	FindSession(ctx context.Context, hash []byte) (*Session, error)
	// DeleteToken revokes a token.
	DeleteToken(ctx context.Context, id int64) error
	// TokenValid reports whether a token still authenticates its user (used
	// by long-lived streams to notice revocation).
	TokenValid(ctx context.Context, id int64) (bool, error)

	// LoginLockedUntil returns when the throttle of key ends (zero if none).
	LoginLockedUntil(ctx context.Context, key string) (time.Time, error)
	// RecordLoginFailure counts one failure for key and returns the time
	// until which key is now locked (zero if not locked). A key that is
	// already locked is not counted: ETHROTTLED, so that attempts racing the
	// lock are refused like the ones after it.
	RecordLoginFailure(ctx context.Context, key string) (time.Time, error)
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

// HashToken returns the stored form of a bearer token.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
