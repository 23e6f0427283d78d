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
	actors                    []int64  // users with activities
	selective                 []string // 4-6 characters anywhere in a username, email or last name, in at most 1 of the sampled users
	wide                      []string // 4-8 characters in 10-40% of the sampled users
	prefixes                  []string // every prefix of the commonest word of the emails
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
	var sample [][3]string // folded username, email, last name of random users
	for len(f.actors) < 2000 || len(sample) < 4000 {
		id := f.randomID(rng)
		var u [3]string
		var acts int
		err := r.QueryRowContext(ctx, "SELECT username_fold, email_fold, last_fold, (SELECT count(*) FROM activities WHERE actor_id = users.id) FROM users WHERE id = "+
			strconv.FormatInt(id, 10)).Scan(&u[0], &u[1], &u[2], &acts)
		if err != nil {
			continue // a gap in the ids
		}
		if acts > 0 && len(f.actors) < 2000 {
			f.actors = append(f.actors, id)
		}
		if len(sample) < 4000 {
			sample = append(sample, u)
		}
	}
	f.selective, f.wide, f.prefixes = searchTerms(rng, sample)
	if len(f.selective) == 0 || len(f.wide) == 0 || len(f.prefixes) == 0 {
		return nil, fmt.Errorf("search terms: %d selective, %d wide, %d prefixes found in the sample; want some of each", len(f.selective), len(f.wide), len(f.prefixes))
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

// searchTerms draws the search scenarios' terms from a sample of users:
// substrings taken at random positions of usernames, emails and last names
// (digits and punctuation included), kept as selective when at most one
// sampled user has them (at 1M users, about 250 matches or fewer) and as
// wide when 10-40% of the sampled users do; and every prefix of the
// commonest word of the emails' domains, as a search box sends them.
func searchTerms(rng *mrand.Rand, sample [][3]string) (selective, wide, prefixes []string) {
	share := func(t string) float64 {
		n := 0
		for _, u := range sample {
			if strings.Contains(u[0], t) || strings.Contains(u[1], t) || strings.Contains(u[2], t) {
				n++
			}
		}
		return float64(n) / float64(len(sample))
	}
	seen := map[string]bool{}
	for tries := 0; tries < 30000 && (len(selective) < 1000 || len(wide) < 40); tries++ {
		f := []rune(sample[rng.IntN(len(sample))][rng.IntN(3)])
		n := 4 + rng.IntN(5) // 4-8; selective terms keep 4-6
		if len(f) < n || strings.TrimSpace(string(f)) == "" {
			continue
		}
		i := rng.IntN(len(f) - n + 1)
		t := string(f[i : i+n])
		if seen[t] || strings.TrimSpace(t) != t || strings.Contains(t, " ") {
			continue
		}
		seen[t] = true
		switch p := share(t); {
		case n <= 6 && p <= 1.0/float64(len(sample)) && len(selective) < 1000:
			selective = append(selective, t)
		case p >= 0.10 && p <= 0.40 && len(wide) < 40:
			wide = append(wide, t)
		}
	}
	words := map[string]int{}
	for _, u := range sample {
		if _, domain, ok := strings.Cut(u[1], "@"); ok {
			for w := range strings.SplitSeq(domain, ".") {
				if len(w) >= 5 {
					words[w]++
				}
			}
		}
	}
	common := ""
	for w, n := range words {
		if n > words[common] || (n == words[common] && w < common) {
			common = w
		}
	}
	for i := range []rune(common) {
		prefixes = append(prefixes, string([]rune(common)[:i+1]))
	}
	return selective, wide, prefixes
}
