package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
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
	rare                      []string // 4-6 characters anywhere in a username, email or last name, in at most 1 of the sampled users
	moreRare                  []string // further terms drawn as the rare ones were, for selectiveTerms
	selective                 []string // rare terms (then further ones) that match 1-300 users: selectiveTerms
	selectiveNote, rareNote   string   // how many users those terms match
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
	f.rare, f.moreRare, f.wide, f.prefixes = searchTerms(rng, sample)
	if len(f.rare) == 0 || len(f.wide) == 0 || len(f.prefixes) == 0 {
		return nil, fmt.Errorf("search terms: %d rare, %d wide, %d prefixes found in the sample; want some of each", len(f.rare), len(f.wide), len(f.prefixes))
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
// (digits and punctuation included), kept as rare when at most one sampled
// user has them (1,000, and up to 4,000 more for selectiveTerms) and as
// wide when 10-40% of the sampled users do; and every prefix of the
// commonest word of the emails' domains, as a search box sends them.
func searchTerms(rng *mrand.Rand, sample [][3]string) (rare, moreRare, wide, prefixes []string) {
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
	// draw returns a new term of n characters at a random position of a
	// sampled field, or "" when the draw fails.
	draw := func() (string, int) {
		f := []rune(sample[rng.IntN(len(sample))][rng.IntN(3)])
		n := 4 + rng.IntN(5) // 4-8; rare terms keep 4-6
		if len(f) < n || strings.TrimSpace(string(f)) == "" {
			return "", 0
		}
		i := rng.IntN(len(f) - n + 1)
		t := string(f[i : i+n])
		if seen[t] || strings.TrimSpace(t) != t || strings.Contains(t, " ") {
			return "", 0
		}
		seen[t] = true
		return t, n
	}
	for tries := 0; tries < 30000 && (len(rare) < 1000 || len(wide) < 40); tries++ {
		t, n := draw()
		if t == "" {
			continue
		}
		switch p := share(t); {
		case n <= 6 && p <= 1.0/float64(len(sample)) && len(rare) < 1000:
			rare = append(rare, t)
		case p >= 0.10 && p <= 0.40 && len(wide) < 40:
			wide = append(wide, t)
		}
	}
	for tries := 0; tries < 100000 && len(moreRare) < 4000; tries++ {
		if t, n := draw(); t != "" && n <= 6 && share(t) <= 1.0/float64(len(sample)) {
			moreRare = append(moreRare, t)
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
	return rare, moreRare, wide, prefixes
}

// selectiveTerms keeps as fx.selective the first want rare terms, then
// further ones, that match 1-300 users by the store's own count (the
// count the API answers with), as the selective terms do. Being
// in at most 1 of 4,000 sampled users is not enough: such a term is
// expected in up to about 250 users at 1M users, but 2,500 at 10M. The
// rare terms, the selective ones of passes 1-8 in BENCHMARKS.md, stay as
// the search-rare scenario; fx.rareNote says how many users they match.
func selectiveTerms(ctx context.Context, db *sqlstore.DB, fx *fixture, want int) error {
	var rareCounts, selCounts []int
	for i, t := range append(append([]string{}, fx.rare...), fx.moreRare...) {
		if i >= len(fx.rare) && len(fx.selective) >= want {
			break
		}
		terms := roster.SearchTerms(t)
		_, n, err := db.SearchUsers(ctx, roster.UserSearch{Terms: terms, Query: strings.Join(terms, " "), Page: roster.Page{Limit: 1}})
		if err != nil {
			return fmt.Errorf("counting the matches of %q: %w", t, err)
		}
		if i < len(fx.rare) {
			rareCounts = append(rareCounts, n)
		}
		if n >= 1 && n <= 300 && len(fx.selective) < want {
			fx.selective = append(fx.selective, t)
			selCounts = append(selCounts, n)
		}
	}
	if len(fx.selective) == 0 {
		return fmt.Errorf("no term of 1-300 matches among %d rare terms", len(fx.rare)+len(fx.moreRare))
	}
	fx.selectiveNote = fmt.Sprintf("%d terms, matches %s", len(selCounts), spread(selCounts))
	fx.rareNote = fmt.Sprintf("%d terms, matches %s", len(rareCounts), spread(rareCounts))
	return nil
}

// spread describes counts: their least, median, 99th percentile and most.
func spread(counts []int) string {
	s := slices.Sorted(slices.Values(counts))
	return fmt.Sprintf("min %d, median %d, p99 %d, max %d", s[0], s[len(s)/2], s[len(s)*99/100], s[len(s)-1])
}
