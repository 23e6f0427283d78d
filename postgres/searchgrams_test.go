package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
)

// wantGrams recounts search_grams from the users table in Go: the distinct
// substrings (Prefix false) and prefixes (Prefix true) of 1 to 3 characters
// of each field of search_text, once per user.
func wantGrams(t *testing.T, db *sqlstore.DB) map[storetest.Gram]int64 {
	t.Helper()
	rows, err := db.ReadDB().Query("SELECT search_text, is_active FROM users")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[storetest.Gram]int64{}
	for rows.Next() {
		var text string
		var active bool
		if err := rows.Scan(&text, &active); err != nil {
			t.Fatal(err)
		}
		seen := map[storetest.Gram]bool{}
		for _, field := range strings.Split(text, "\x1f") {
			r := []rune(field)
			for i := range r {
				for n := 1; n <= 3 && i+n <= len(r); n++ {
					seen[storetest.Gram{Text: string(r[i : i+n]), Active: active}] = true
					if i == 0 {
						seen[storetest.Gram{Text: string(r[:n]), Prefix: true, Active: active}] = true
					}
				}
			}
		}
		for k := range seen {
			want[k]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// checkGrams fails unless search_grams holds exactly the recount (rows
// whose count fell to 0 may stay).
func checkGrams(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	storetest.CheckSearchGrams(t, db.ReadDB(), wantGrams(t, db))
}

// TestSearchGramsSeedAndConcurrentWrites checks search_grams after a seed
// (the rebuild of bulk.go) and after concurrent creates, name changes,
// deactivations and deletes (the triggers), and that a short search counts
// from it.
func TestSearchGramsSeedAndConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 400}); err != nil {
		t.Fatal(err)
	}
	checkGrams(t, db)
	names := []string{"Anna", "MARIA", "Straße", "ΣΟΦΙΑ", "İlker", "Kelvin", "ﬁona", "佐藤", "", "son", "a", "ab"}
	var serial atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 60 {
				id := int64(1 + rng.IntN(400))
				var err error
				switch i % 4 {
				case 0:
					n := serial.Add(1)
					u := &roster.User{Username: fmt.Sprintf("new%d", n), Email: fmt.Sprintf("new%d@example.com", n),
						FirstName: names[rng.IntN(len(names))], IsActive: rng.IntN(2) == 0, Timezone: "UTC", Locale: "en"}
					err = db.CreateUser(ctx, 0, u, "")
				case 1:
					last, first := names[rng.IntN(len(names))], names[rng.IntN(len(names))]
					_, err = db.UpdateUser(ctx, 0, id, roster.UserUpdate{LastName: &last, FirstName: &first})
				case 2:
					active := rng.IntN(2) == 0
					_, err = db.UpdateUser(ctx, 0, id, roster.UserUpdate{IsActive: &active})
				default:
					err = db.DeleteUser(ctx, 0, id)
				}
				if err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkGrams(t, db)
	for _, q := range []string{"a", "an", "son", "ß", "σ"} {
		terms := roster.SearchTerms(q)
		q := strings.Join(terms, " ")
		_, n, err := db.SearchUsers(ctx, roster.UserSearch{Query: q, Terms: terms, Page: roster.Page{Limit: 5}})
		if err != nil {
			t.Fatal(err)
		}
		var want int
		if err := db.ReadDB().QueryRow("SELECT count(*) FROM users WHERE strpos(search_text, $1) > 0", q).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("search %q counts %d, want %d", q, n, want)
		}
	}
}

// BenchmarkCreateUserParallel measures concurrent user creates (8
// goroutines per CPU, as many requests at once) on 2,000 seeded users, with
// the search_grams triggers and without them (dropped): the cost of keeping
// the counts.
func BenchmarkCreateUserParallel(b *testing.B) {
	for _, variant := range []string{"grams", "nograms"} {
		b.Run(variant, func(b *testing.B) {
			ctx := context.Background()
			db := mustOpen(b)
			if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 2000}); err != nil {
				b.Fatal(err)
			}
			if variant == "nograms" {
				if _, err := db.WriteDB().Exec("DROP TRIGGER search_grams_insert ON users; DROP TRIGGER search_grams_update ON users"); err != nil {
					b.Fatal(err)
				}
			}
			var serial atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := serial.Add(1)
					u := &roster.User{Username: fmt.Sprintf("bench_user_%d", n), Email: fmt.Sprintf("bench_user_%d@example.net", n),
						FirstName: "Marianne", LastName: "Johansson", IsActive: true, Timezone: "UTC", Locale: "en"}
					if err := db.CreateUser(ctx, 0, u, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
