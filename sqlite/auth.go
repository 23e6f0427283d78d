package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.AuthService = (*DB)(nil)

// FindCredentials looks a user up by username or email, preferring a
// username match when one user's username is another's email.
func (db *DB) FindCredentials(ctx context.Context, login string) (*roster.User, string, error) {
	f := roster.Fold(login)
	var hash string
	u, err := scanUser(db.read.QueryRowContext(ctx, "SELECT "+userColumns+`, u.password_hash FROM users u
		WHERE u.username_fold = ? OR u.email_fold = ? ORDER BY u.username_fold = ? DESC LIMIT 1`, f, f, f), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", errNotFound("User")
	} else if err != nil {
		return nil, "", mapErr(err)
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
	return hash, mapErr(err)
}

// CreateSession stores a login token, stamps lastLogin, clears the throttle
// and records auth.login in one transaction.
func (db *DB) CreateSession(ctx context.Context, t *roster.Token, throttleKey string) error {
	now := db.Now()
	var lastID int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkLoginLock(ctx, tx, throttleKey, now); err != nil {
			return err
		}
		if err := insertToken(ctx, tx, t, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET last_login = ? WHERE id = ?", micros(now), t.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_throttle WHERE key = ?", throttleKey); err != nil {
			return err
		}
		var err error
		lastID, err = insertActivity(ctx, tx, &roster.Activity{ActorID: t.UserID, Verb: roster.VerbAuthLogin, Published: now})
		return err
	})
	if err == nil {
		db.published(lastID)
	}
	return err
}

// CreateToken stores a token for an existing user.
func (db *DB) CreateToken(ctx context.Context, t *roster.Token) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return insertToken(ctx, tx, t, db.Now()) })
}

func insertToken(ctx context.Context, tx *sql.Tx, t *roster.Token, now time.Time) error {
	t.CreatedAt = now
	res, err := tx.ExecContext(ctx, "INSERT INTO tokens (user_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
		t.UserID, t.Hash, micros(now), micros(t.ExpiresAt))
	if err != nil {
		return err
	}
	t.ID, err = res.LastInsertId()
	return err
}

var errBadToken = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "Invalid or expired token."}

// FindSession resolves a token hash to its active user.
func (db *DB) FindSession(ctx context.Context, hash []byte) (*roster.Session, error) {
	var tokenID int64
	u, err := scanUser(db.read.QueryRowContext(ctx, "SELECT "+userColumns+`, t.id FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.expires_at > ? AND u.is_active = 1`, hash, micros(db.Now())), &tokenID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadToken
	} else if err != nil {
		return nil, mapErr(err)
	}
	return &roster.Session{TokenID: tokenID, User: u}, nil
}

// DeleteToken revokes one token.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
		return err
	})
}

// TokenValid reports whether token id still authenticates an active user.
func (db *DB) TokenValid(ctx context.Context, id int64) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.id = ? AND t.expires_at > ? AND u.is_active = 1`, id, micros(db.Now())).Scan(&n)
	return n > 0, mapErr(err)
}

// LoginLockedUntil returns the end of key's lockout, or zero.
func (db *DB) LoginLockedUntil(ctx context.Context, key string) (time.Time, error) {
	var until int64
	err := db.read.QueryRowContext(ctx, "SELECT locked_until FROM login_throttle WHERE key = ?", key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && until <= micros(db.Now())) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, mapErr(err)
	}
	return fromMicros(until), nil
}

// checkLoginLock returns ETHROTTLED when key is locked at now. Inside the
// write transaction it makes the check and what follows atomic, so that
// concurrent attempts that passed the handler's early check cannot add
// failures (or log in) past the lock.
func checkLoginLock(ctx context.Context, q querier, key string, now time.Time) error {
	var until int64
	err := q.QueryRowContext(ctx, "SELECT locked_until FROM login_throttle WHERE key = ?", key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && until <= micros(now)) {
		return nil
	} else if err != nil {
		return err
	}
	return roster.ErrLoginThrottled(fromMicros(until), now)
}

// RecordLoginFailure counts a consecutive failure for key and locks it once
// the count reaches roster.MaxLoginFailures; a locked key is not counted.
func (db *DB) RecordLoginFailure(ctx context.Context, key string) (time.Time, error) {
	now := db.Now()
	var until time.Time
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkLoginLock(ctx, tx, key, now); err != nil {
			return err
		}
		var n int
		err := tx.QueryRowContext(ctx, `INSERT INTO login_throttle (key, failures) VALUES (?, 1)
			ON CONFLICT (key) DO UPDATE SET failures = failures + 1 RETURNING failures`, key).Scan(&n)
		if err != nil {
			return err
		}
		if d := roster.LockoutFor(n); d > 0 {
			until = now.Add(d)
			_, err = tx.ExecContext(ctx, "UPDATE login_throttle SET locked_until = ? WHERE key = ?", micros(until), key)
		}
		return err
	})
	return until, err
}
