package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

// commonTerms are 2-3 character terms that match a large share of users.
var commonTerms = []string{"an", "er", "li", "ma", "son", "ia", "ar"}

func openDB(ctx context.Context, dbURL string) (*sqlstore.DB, error) {
	var db *sqlstore.DB
	var err error
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		db, err = postgres.Open(ctx, dbURL, postgres.Options{MaxConns: 4})
	} else {
		db, err = sqlite.Open(ctx, strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//"))
	}
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// fixture is what the scenarios draw from: id ranges, real search terms
// and tokens.
type fixture struct {
	users, activities         int
	minID, maxID              int64
	actors                    []int64 // users with activities
	selective                 []string
	viewerToken, adminToken   string
	viewerID, adminID, sseAct int64
}

func (f *fixture) randomID(rng *mrand.Rand) int64 {
	return f.minID + rng.Int64N(f.maxID-f.minID+1)
}

func (f *fixture) randomActor(rng *mrand.Rand) int64 { return f.actors[rng.IntN(len(f.actors))] }

// prepare reads the fixture from the database and makes two tokens: an
// active non-admin viewer (reads, posts) and an admin "bench-admin" (SSE).
func prepare(ctx context.Context, db *sqlstore.DB) (*fixture, error) {
	f := &fixture{}
	r := db.ReadDB()
	if err := r.QueryRowContext(ctx, "SELECT count(*), min(id), max(id) FROM users").Scan(&f.users, &f.minID, &f.maxID); err != nil {
		return nil, err
	}
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM activities").Scan(&f.activities); err != nil {
		return nil, err
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for len(f.actors) < 2000 || len(f.selective) < 1000 {
		id := f.randomID(rng)
		var username string
		var acts int
		err := r.QueryRowContext(ctx, "SELECT username_fold, (SELECT count(*) FROM activities WHERE actor_id = users.id) FROM users WHERE id = "+
			strconv.FormatInt(id, 10)).Scan(&username, &acts)
		if err != nil {
			continue // a gap in the ids
		}
		if acts > 0 && len(f.actors) < 2000 {
			f.actors = append(f.actors, id)
		}
		if u := []rune(username); len(u) >= 6 && len(f.selective) < 1000 {
			n := 4 + rng.IntN(3)
			i := len(u) - n - rng.IntN(min(3, len(u)-n+1)) // near the end: the unique number
			f.selective = append(f.selective, string(u[i:i+n]))
		}
	}
	// The viewer: an active non-admin with activities.
	if err := r.QueryRowContext(ctx, "SELECT id FROM users WHERE is_active AND NOT is_admin AND last_active_at IS NOT NULL ORDER BY id LIMIT 1").Scan(&f.viewerID); err != nil {
		return nil, fmt.Errorf("no active non-admin user to act as the viewer: %w", err)
	}
	admin, _, err := db.FindCredentials(ctx, "bench-admin")
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		admin = &roster.User{Username: "bench-admin", Email: "bench-admin@roster.invalid", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
		err = db.CreateUser(ctx, 0, admin, "")
	}
	if err != nil {
		return nil, err
	}
	f.adminID = admin.ID
	if f.viewerToken, err = newToken(ctx, db, f.viewerID); err != nil {
		return nil, err
	}
	if f.adminToken, err = newToken(ctx, db, f.adminID); err != nil {
		return nil, err
	}
	f.sseAct = f.viewerID
	return f, nil
}

func newToken(ctx context.Context, db *sqlstore.DB, uid int64) (string, error) {
	secret, hash := roster.NewTokenSecret()
	err := db.CreateToken(ctx, &roster.Token{UserID: uid, Hash: hash, ExpiresAt: time.Now().Add(24 * time.Hour)})
	return secret, err
}
