package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// TokenUseFlushInterval is how often the store writes the lastUsedAt of the
// tokens that authenticated requests since the previous write (and once
// more when it closes): one small transaction every few seconds instead of
// a write per request.
const TokenUseFlushInterval = 5 * time.Second

const tokenColumns = "t.id, t.user_id, t.kind, t.name, t.scopes, t.prefix, t.created_at, t.expires_at, t.last_used_at"

// tokenScopes reads the stored scopes of a token of kind: a session has
// every scope whatever is stored.
func tokenScopes(kind roster.TokenKind, stored string) roster.Scopes {
	if kind != roster.TokenPersonal {
		return roster.EveryScope
	}
	return roster.ParseScopes(stored)
}

func (db *DB) scanToken(s Scanner) (*roster.Token, error) {
	var t roster.Token
	var kind, scopes string
	var created, expires, used dbTime
	if err := s.Scan(&t.ID, &t.UserID, &kind, &t.Name, &scopes, &t.Prefix, &created, &expires, &used); err != nil {
		return nil, err
	}
	t.Kind = roster.TokenKind(kind)
	t.Scopes = tokenScopes(t.Kind, scopes)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = created.t, expires.t, used.ptr()
	if at, ok := db.tokenUses.pending(t.ID); ok && (t.LastUsedAt == nil || at.After(*t.LastUsedAt)) {
		t.LastUsedAt = &at
	}
	return &t, nil
}

// FindTokens returns one page of the user's unexpired tokens, newest first.
func (db *DB) FindTokens(ctx context.Context, userID int64, p roster.Page) ([]*roster.Token, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	now := db.t(db.Now())
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM tokens WHERE user_id = ? AND expires_at > ?", userID, now).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+tokenColumns+` FROM tokens t WHERE t.user_id = ? AND t.expires_at > ?
		ORDER BY t.id DESC LIMIT ? OFFSET ?`, userID, now, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	list := []*roster.Token{}
	for rows.Next() {
		t, err := db.scanToken(rows)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, t)
	}
	return list, total, rows.Err()
}

// FindToken returns one unexpired token.
func (db *DB) FindToken(ctx context.Context, id int64) (*roster.Token, error) {
	t, err := db.scanToken(db.read.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM tokens t WHERE t.id = ? AND t.expires_at > ?",
		id, db.t(db.Now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("Token")
	}
	return t, err
}

// MarkTokenUsed notes a use of token id in memory; flushTokenUses writes it.
func (db *DB) MarkTokenUsed(id int64, at time.Time) { db.tokenUses.mark(id, at) }

// tokenUses collects the latest use of each token between two flushes.
type tokenUses struct {
	mu sync.Mutex
	m  map[int64]time.Time
}

func newTokenUses() *tokenUses { return &tokenUses{m: map[int64]time.Time{}} }

func (u *tokenUses) mark(id int64, at time.Time) {
	u.mu.Lock()
	if at.After(u.m[id]) {
		u.m[id] = at
	}
	u.mu.Unlock()
}

func (u *tokenUses) pending(id int64) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	at, ok := u.m[id]
	return at, ok
}

// take returns the uses noted so far and starts a new set.
func (u *tokenUses) take() map[int64]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.m
	u.m = map[int64]time.Time{}
	return m
}

// FlushTokenUses writes the noted token uses now, in one transaction; a
// stored lastUsedAt never moves back (another instance may have written a
// later one). On failure the uses are noted again for the next flush.
func (db *DB) FlushTokenUses(ctx context.Context) error {
	uses := db.tokenUses.take()
	if len(uses) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *wtx) error {
		for id, at := range uses {
			if _, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?
				WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, db.t(at), id, db.t(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for id, at := range uses {
			db.tokenUses.mark(id, at)
		}
	}
	return err
}

// flushTokenUsesLoop flushes every TokenUseFlushInterval until ctx ends.
func (db *DB) flushTokenUsesLoop(ctx context.Context) {
	tick := time.NewTicker(TokenUseFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = db.FlushTokenUses(ctx) // kept for the next tick on failure
		}
	}
}

// tokenActivity is the activity of a change of token t: the object is the
// token (never its secret), data names its owner and scopes.
func tokenActivity(actor int64, verb string, t *roster.Token, now time.Time) *roster.Activity {
	data, _ := json.Marshal(map[string]any{"user": t.UserID, "kind": t.Kind, "scopes": t.Scopes.List()})
	return &roster.Activity{ActorID: actor, Verb: verb, Published: now, Data: data,
		Object: &roster.ActivityObject{Type: "token", ID: strconv.FormatInt(t.ID, 10), Name: t.Name}}
}

// IssueToken stores a personal token and records token.created.
func (db *DB) IssueToken(ctx context.Context, actor int64, t *roster.Token) error {
	now := db.Now()
	return db.tx(ctx, func(tx *wtx) error {
		if err := tx.insertToken(ctx, t, now); err != nil {
			return err
		}
		return tx.insertActivity(ctx, tokenActivity(actor, roster.VerbTokenCreated, t, now))
	})
}

// RevokeToken deletes a token and records token.revoked; the session
// cache forgets it when the transaction commits.
func (db *DB) RevokeToken(ctx context.Context, actor, id int64) error {
	now := db.Now()
	err := db.tx(ctx, func(tx *wtx) error {
		t, err := db.scanToken(tx.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM tokens t WHERE t.id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound("Token")
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id); err != nil {
			return err
		}
		return tx.insertActivity(ctx, tokenActivity(actor, roster.VerbTokenRevoked, t, now))
	})
	db.cache.invalidateSessions()
	return err
}
