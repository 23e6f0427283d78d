package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.AuthService = (*DB)(nil)

// FindCredentials looks a user up by username or email. Usernames and
// emails are unique across both fields (checkUnique); should older data
// still have a name that is one user's username and another's email, the
// name is ambiguous and names nobody (ENOTFOUND) rather than either.
func (db *DB) FindCredentials(ctx context.Context, login string) (*roster.User, string, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	f := roster.Fold(login)
	var u *roster.User
	var hash string
	err := eachRow(ctx, db.read, "SELECT "+UserColumns+`, u.password_hash FROM users u
		WHERE u.username_fold = ? OR u.email_fold = ? LIMIT 2`, []any{f, f}, func(rows *sql.Rows) error {
		var h string
		v, err := scanUser(rows, &h)
		if err != nil {
			return err
		}
		if u != nil && u.ID != v.ID {
			return errNotFound("User")
		}
		u, hash = v, h
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if u == nil {
		return nil, "", errNotFound("User")
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

// CreateSession stores a login token, stamps lastLogin, clears the
// throttle rows of throttleKeys and records auth.login in one transaction.
// The first key (the account's) is checked for a lock inside it.
func (db *DB) CreateSession(ctx context.Context, t *roster.Token, throttleKeys ...string) error {
	now := db.Now()
	err := db.tx(ctx, func(tx *wtx) error {
		if len(throttleKeys) > 0 {
			if err := checkLoginLock(ctx, tx, throttleKeys[0], now); err != nil {
				return err
			}
		}
		for _, k := range throttleKeys {
			if _, err := tx.ExecContext(ctx, "DELETE FROM login_throttle WHERE key = ?", k); err != nil {
				return err
			}
		}
		return tx.insertSession(ctx, t, now, map[string]string{"method": "password"})
	})
	return err
}

// insertSession stores the login token t, stamps the user's lastLogin and
// records auth.login with how the user signed in (method).
func (tx *wtx) insertSession(ctx context.Context, t *roster.Token, now time.Time, method map[string]string) error {
	if err := tx.insertToken(ctx, t, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE users SET last_login = ? WHERE id = ?", tx.db.t(now), t.UserID); err != nil {
		return err
	}
	data, _ := json.Marshal(method)
	return tx.insertActivity(ctx, &roster.Activity{ActorID: t.UserID, Verb: roster.VerbAuthLogin, Data: data, Published: now})
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

// RecordLoginFailure counts a consecutive failure for each key and locks a
// key once its count reaches roster.MaxLoginFailures; when any key is
// locked nothing is counted. A key whose last failure is older than
// roster.LoginThrottleTTL starts again from one. Each new row first
// deletes the expired ones and, past roster.MaxLoginThrottleNames
// login-name rows, the least recently failed of them, so that unknown names
// cannot grow the table without bound.
func (db *DB) RecordLoginFailure(ctx context.Context, keys ...string) (time.Time, error) {
	now := db.Now()
	stale := db.t(now.Add(-roster.LoginThrottleTTL))
	var until time.Time
	err := db.tx(ctx, func(tx *wtx) error {
		for _, key := range keys {
			if err := checkLoginLock(ctx, tx, key, now); err != nil {
				return err
			}
		}
		until = time.Time{}
		for _, key := range keys {
			var n int
			err := tx.QueryRowContext(ctx, `INSERT INTO login_throttle (key, failures, updated_at) VALUES (?, 1, ?)
				ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at,
				failures = CASE WHEN login_throttle.updated_at < ? THEN 1 ELSE login_throttle.failures + 1 END
				RETURNING failures`, key, db.t(now), stale).Scan(&n)
			if err != nil {
				return err
			}
			until = time.Time{}
			if d := roster.LockoutFor(n); d > 0 {
				until = now.Add(d)
				if _, err = tx.ExecContext(ctx, "UPDATE login_throttle SET locked_until = ? WHERE key = ?", db.t(until), key); err != nil {
					return err
				}
			}
			if n == 1 && strings.HasPrefix(key, "login:") {
				if err := pruneLoginThrottle(ctx, tx, stale); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return until, err
}

// pruneLoginThrottle deletes rows untouched since stale and the least
// recently failed login-name rows beyond roster.MaxLoginThrottleNames.
func pruneLoginThrottle(ctx context.Context, tx *wtx, stale any) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM login_throttle WHERE updated_at < ?", stale); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM login_throttle WHERE key LIKE 'login:%'").Scan(&n); err != nil {
		return err
	}
	if over := n - roster.MaxLoginThrottleNames; over > 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle
			WHERE key LIKE 'login:%' ORDER BY updated_at LIMIT ?)`, over)
		return err
	}
	return nil
}
