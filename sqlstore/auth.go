package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.AuthService = (*DB)(nil)

// FindCredentials looks a user up, active or not, by username or email,
// preferring a username match when one user's username is another's email.
func (db *DB) FindCredentials(ctx context.Context, login string) (*roster.User, string, error) {
	f := roster.Fold(login)
	var hash string
	u, err := scanUser(db.read.QueryRowContext(ctx, "SELECT "+UserColumns+`, u.password_hash FROM users u
		WHERE u.username_fold = ? OR u.email_fold = ? ORDER BY u.username_fold = ? DESC LIMIT 1`, f, f, f), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", errNotFound("User")
	} else if err != nil {
		return nil, "", err
	}
	return u, hash, nil
}

// FindPasswordHash returns the stored password hash of a user.
func (db *DB) FindPasswordHash(ctx context.Context, id int64) (string, error) {
	var hash string
	err := db.read.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE id = ?", id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNotFound("User")
	}
	return hash, err
}

// CreateSession stores a login token, stamps lastLogin, clears the throttle
// and records auth.login in one transaction.
func (db *DB) CreateSession(ctx context.Context, t *roster.Token, throttleKey string) error {
	now := db.Now()
	err := db.tx(ctx, func(tx *wtx) error {
		if err := checkLoginLock(ctx, tx, throttleKey, now); err != nil {
			return err
		}
		if err := tx.insertToken(ctx, t, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET last_login = ? WHERE id = ?", db.t(now), t.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_throttle WHERE key = ?", throttleKey); err != nil {
			return err
		}
		return tx.insertActivity(ctx, &roster.Activity{ActorID: t.UserID, Verb: roster.VerbAuthLogin, Published: now})
	})
	return err
}

// CreateToken stores a token for an existing user.
func (db *DB) CreateToken(ctx context.Context, t *roster.Token) error {
	return db.tx(ctx, func(tx *wtx) error { return tx.insertToken(ctx, t, db.Now()) })
}

func (tx *wtx) insertToken(ctx context.Context, t *roster.Token, now time.Time) error {
	t.CreatedAt = now
	if t.Kind == "" {
		t.Kind = roster.TokenSession
	}
	scopes := ""
	if t.Kind == roster.TokenPersonal {
		scopes = t.Scopes.String()
	}
	return tx.QueryRowContext(ctx, `INSERT INTO tokens (user_id, hash, created_at, expires_at, kind, name, scopes, prefix)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.UserID, t.Hash, tx.db.t(now), tx.db.t(t.ExpiresAt), string(t.Kind), t.Name, scopes, t.Prefix).Scan(&t.ID)
}

var errBadToken = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "Invalid or expired token."}

// FindSession resolves a token hash to its active user. Answers are
// reused for up to the session cache's TTL (see DefaultSessionCacheTTL).
func (db *DB) FindSession(ctx context.Context, hash []byte) (*roster.Session, error) {
	now := db.Now()
	cache := db.cache
	if s, ok := cache.session(hash, now); ok {
		return s, nil
	}
	epoch, fetched := cache.beginSession(now)
	var tokenID int64
	var expires dbTime
	var kind, scopes string
	u, err := scanUser(db.read.QueryRowContext(ctx, "SELECT "+UserColumns+`, t.id, t.expires_at, t.kind, t.scopes FROM tokens t
		JOIN users u ON u.id = t.user_id WHERE t.hash = ? AND t.expires_at > ? AND u.is_active`, hash, db.t(now)),
		&tokenID, &expires, &kind, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	s := &roster.Session{TokenID: tokenID, TokenKind: roster.TokenKind(kind), Scopes: tokenScopes(roster.TokenKind(kind), scopes), User: u}
	cache.putSession(hash, s, expires.t, epoch, fetched)
	return s, nil
}

// SetSessionCacheTTL sets how long FindSession may reuse an answer while
// the cache layer is on; 0 turns the session cache off.
func (db *DB) SetSessionCacheTTL(d time.Duration) {
	if db.cache == nil {
		return
	}
	db.cache.sessions.ttl.Store(int64(max(d, 0)))
	db.cache.sessions.invalidate()
}

// DeleteToken revokes one token.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	err := db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
		return err
	})
	db.cache.invalidateSessions()
	return err
}

// LoginLockedUntil returns the end of key's lockout, or zero.
func (db *DB) LoginLockedUntil(ctx context.Context, key string) (time.Time, error) {
	var until dbTime
	err := db.read.QueryRowContext(ctx, "SELECT locked_until FROM login_throttle WHERE key = ?", key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !until.t.After(db.Now())) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, err
	}
	return until.t, nil
}

// checkLoginLock returns ETHROTTLED when key is locked at now. Inside the
// write transaction it makes the check and what follows atomic, so that
// concurrent attempts that passed the handler's early check cannot add
// failures (or log in) past the lock.
func checkLoginLock(ctx context.Context, q Querier, key string, now time.Time) error {
	var until dbTime
	err := q.QueryRowContext(ctx, "SELECT locked_until FROM login_throttle WHERE key = ?", key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !until.t.After(now)) {
		return nil
	} else if err != nil {
		return err
	}
	return roster.ErrLoginThrottled(until.t, now)
}

// RecordLoginFailure counts a consecutive failure for key and locks it once
// the count reaches roster.MaxLoginFailures; a locked key is not counted.
func (db *DB) RecordLoginFailure(ctx context.Context, key string) (time.Time, error) {
	now := db.Now()
	var until time.Time
	err := db.tx(ctx, func(tx *wtx) error {
		if err := checkLoginLock(ctx, tx, key, now); err != nil {
			return err
		}
		var n int
		err := tx.QueryRowContext(ctx, `INSERT INTO login_throttle (key, failures) VALUES (?, 1)
			ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures + 1 RETURNING failures`, key).Scan(&n)
		if err != nil {
			return err
		}
		if d := roster.LockoutFor(n); d > 0 {
			until = now.Add(d)
			_, err = tx.ExecContext(ctx, "UPDATE login_throttle SET locked_until = ? WHERE key = ?", db.t(until), key)
		}
		return err
	})
	return until, err
}
