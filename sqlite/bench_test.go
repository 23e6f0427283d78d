package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
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

// openSeeded returns a migrated store with sp's speed-ups on a new file,
// seeded with users users (and as many activities).
func openSeeded(tb testing.TB, sp speedups, users int) *DB {
	tb.Helper()
	ctx := context.Background()
	db, err := open(ctx, filepath.Join(tb.TempDir(), "roster.db"), sp)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if users > 0 {
		if _, err := db.Seed(ctx, sqlstoreSeed(users)); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// without returns allSpeedups with the one named speed-up off.
func without(off string) speedups {
	sp := allSpeedups
	switch off {
	case "groupCommit":
		sp.groupCommit = false
	case "gramSearch":
		sp.gramSearch = false
	case "phrases":
		sp.phrases = false
	case "phraseFew":
		sp.phraseFew = false
	case "bulkLoad":
		sp.bulkLoad = false
	case "stmtCache":
		sp.stmtCache = false
	case "multiThread":
		sp.multiThread = false
	}
	return sp
}

// BenchmarkGroupCommit measures concurrent small writes (CreateToken, one
// insert each, 16 writers per CPU: 32 on 2 CPUs) with and without group commit.
func BenchmarkGroupCommit(b *testing.B) {
	for _, variant := range []string{"on", "groupCommit"} {
		b.Run(variant, func(b *testing.B) {
			db := openSeeded(b, without(variant), 100)
			ctx := context.Background()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, hash := roster.NewTokenSecret()
					if err := db.CreateToken(ctx, &roster.Token{UserID: 1, Hash: hash, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSearchShort measures a search for one short term (a page of
// 50 at offset 0 and 1,000) on 20,000 seeded users, answered from
// search_grams (on) and by the portable search (gramSearch off).
func BenchmarkSearchShort(b *testing.B) {
	for _, variant := range []string{"on", "gramSearch"} {
		db := openSeeded(b, without(variant), 20_000)
		for _, q := range []string{"a", "an", "ann"} {
			for _, offset := range []int{0, 1000} {
				b.Run(fmt.Sprintf("%s/q=%s/offset=%d", variant, q, offset), func(b *testing.B) {
					ctx := context.Background()
					s := roster.UserSearch{Terms: []string{q}, Query: q, Page: roster.Page{Offset: offset, Limit: 50}}
					for b.Loop() {
						if _, n, err := db.SearchUsers(ctx, s); err != nil || n == 0 {
							b.Fatal(n, err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkSearchPhrases measures a search for terms of four or more
// characters (a page of 50 at offset 0 and 1,000) on 20,000 seeded users,
// answered from users_fts (on) and by the portable search (phrases off),
// whose count is kept per users version: each iteration bumps the version
// first, as a user write between two searches does.
func BenchmarkSearchPhrases(b *testing.B) {
	for _, variant := range []string{"on", "phrases"} {
		db := openSeeded(b, without(variant), 20_000)
		for _, q := range []string{"exam", "mple.c", "user1"} {
			for _, offset := range []int{0, 1000} {
				b.Run(fmt.Sprintf("%s/q=%s/offset=%d", variant, q, offset), func(b *testing.B) {
					ctx := context.Background()
					s := roster.UserSearch{Terms: []string{q}, Query: q, Page: roster.Page{Offset: offset, Limit: 50}}
					for b.Loop() {
						if _, err := db.WriteDB().ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'users_version'`); err != nil {
							b.Fatal(err)
						}
						if _, n, err := db.SearchUsers(ctx, s); err != nil || n == 0 {
							b.Fatal(n, err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkSeed measures seeding 20,000 users (and as many activities)
// with the bulk load (indexes and triggers set aside) and without.
func BenchmarkSeed(b *testing.B) {
	for _, variant := range []string{"on", "bulkLoad"} {
		b.Run(variant, func(b *testing.B) {
			for b.Loop() {
				openSeeded(b, without(variant), 20_000)
			}
		})
	}
}

// BenchmarkReads measures the reads the statement cache and the
// multi-thread mode were made for, on 20,000 seeded users, with every
// speed-up on and with each of the two off: a user profile with its
// groups (FindUserByID), and a page of 50 users read through the read
// pool (the query of a list page, without the list cache).
func BenchmarkReads(b *testing.B) {
	for _, variant := range []string{"on", "stmtCache", "multiThread"} {
		db := openSeeded(b, without(variant), 20_000)
		ctx := context.Background()
		b.Run(variant+"/profile", func(b *testing.B) {
			defer reportCPU(b)()
			id := int64(1)
			for b.Loop() {
				id = id%20_000 + 1
				if _, err := db.FindUserByID(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(variant+"/page", func(b *testing.B) {
			defer reportCPU(b)()
			off := 0
			for b.Loop() {
				off = (off + 50) % 19_000
				rows, err := db.ReadDB().QueryContext(ctx, "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.is_active FROM users u WHERE u.id > ? ORDER BY u.id LIMIT 50", off)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var s roster.UserSummary
					if err := rows.Scan(&s.ID, &s.Username, &s.Email, &s.FirstName, &s.LastName, &s.IsActive); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if err := rows.Close(); err != nil || n != 50 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// reportCPU returns the function that reports the process's CPU time per
// operation (cpu-ns/op) since reportCPU was called: on a busy machine it
// varies less than the wall time.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStoredSearchWrites measures a user write with 0 and 256 stored
// search counts (storetest.BenchStoredSearchWrites).
func BenchmarkStoredSearchWrites(b *testing.B) {
	db := openSeeded(b, allSpeedups, 1000)
	storetest.BenchStoredSearchWrites(b, db, db.WriteDB())
}
