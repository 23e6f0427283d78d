package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
)

// BenchmarkFindSession measures the token check that every authenticated
// request makes: one indexed join of tokens and users on the read pool.
func BenchmarkFindSession(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Seed(ctx, sqlstoreSeed(1000)); err != nil {
		b.Fatal(err)
	}
	u := &roster.User{Username: "viewer", Email: "viewer@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, u, ""); err != nil {
		b.Fatal(err)
	}
	_, hash := roster.NewTokenSecret()
	if err := db.CreateToken(ctx, &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	// cached: the answer of the session cache (the usual case within its
	// TTL); database: the cache off, one read per check.
	for _, ttl := range []time.Duration{sqlstore.DefaultSessionCacheTTL, 0} {
		name := "cached"
		if ttl == 0 {
			name = "database"
		}
		b.Run(name, func(b *testing.B) {
			db.SetSessionCacheTTL(ttl)
			benchFindSession(b, db, hash, u.ID)
		})
	}
}

func benchFindSession(b *testing.B, db *DB, hash []byte, uid int64) {
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s, err := db.FindSession(ctx, hash); err != nil || s.User.ID != uid {
				b.Fatal(s, err)
			}
		}
	})
}

// BenchmarkSearchFrom measures building the FTS5 trigram query of a
// two-term search.
func BenchmarkSearchFrom(b *testing.B) {
	terms := roster.SearchTerms("Müller zoë.mul")
	b.ReportAllocs()
	for b.Loop() {
		if from, _, args := (dialect{}).SearchFrom(terms); from == "" || len(args) != 1 {
			b.Fatal(from, args)
		}
	}
}

func sqlstoreSeed(users int) sqlstore.SeedOptions {
	return sqlstore.SeedOptions{Users: users, Groups: 10, Workspaces: 5, Activities: users}
}

// BenchmarkMarkTokenUsed measures what recording lastUsedAt costs each
// authenticated request: a map write under a mutex, no database write (the
// store flushes the uses every sqlstore.TokenUseFlushInterval).
func BenchmarkMarkTokenUsed(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var id int64
		for pb.Next() {
			id = id%1000 + 1
			db.MarkTokenUsed(id, time.Now())
		}
	})
}
