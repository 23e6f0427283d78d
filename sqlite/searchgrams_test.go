package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/storetest"
)

// gramCounts recomputes search_grams from the users table, in Go.
func gramCounts(t testing.TB, db *DB) map[storetest.Gram]int64 {
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
		sqlstore.SearchGrams(text, func(g string) { want[storetest.Gram{Text: g, Active: active}]++ })
		sqlstore.SearchPrefixes(text, func(g string) { want[storetest.Gram{Text: g, Prefix: true, Active: active}]++ })
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// checkGrams fails unless search_grams holds exactly what gramCounts computes
// (rows whose count fell to 0 may stay).
func checkGrams(t *testing.T, db *DB) {
	t.Helper()
	storetest.CheckSearchGrams(t, db.ReadDB(), gramCounts(t, db))
}

// TestSearchGramsSeedAndWrites checks search_grams after a bulk seed (the
// roster_gram_counts build) and after creates, updates and deletes (the
// triggers).
func TestSearchGramsSeedAndWrites(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Seed(ctx, sqlstoreSeed(3000)); err != nil {
		t.Fatal(err)
	}
	checkGrams(t, db)
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"Anna", "MARIA", "Straße", "ΣΟΦΙΑ", "İlker", "Kelvin", "ﬁona", "佐藤", "", "son"}
	for i := range 200 {
		id := int64(1 + rng.IntN(3000))
		switch i % 4 {
		case 0:
			u := &roster.User{Username: fmt.Sprintf("new%d", i), Email: fmt.Sprintf("new%d@example.com", i), FirstName: names[rng.IntN(len(names))],
				IsActive: rng.IntN(2) == 0, Timezone: "UTC", Locale: "en"}
			if err := db.CreateUser(ctx, 0, u, ""); err != nil {
				t.Fatal(err)
			}
		case 1:
			last := names[rng.IntN(len(names))]
			if _, err := db.UpdateUser(ctx, 0, id, roster.UserUpdate{LastName: &last}); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
				t.Fatal(err)
			}
		case 2:
			active := rng.IntN(2) == 0
			if _, err := db.UpdateUser(ctx, 0, id, roster.UserUpdate{IsActive: &active}); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
				t.Fatal(err)
			}
		default:
			if err := db.DeleteUser(ctx, 0, id); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
				t.Fatal(err)
			}
		}
	}
	checkGrams(t, db)
}

// BenchmarkSearchCommon measures page 1 of a search for a common short term
// (counted from search_grams, paged group by group) among 100,000 seeded
// users.
func BenchmarkSearchCommon(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Seed(ctx, sqlstoreSeed(100000)); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"an", "er", "son", "ma"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				users, n, err := db.SearchUsers(ctx, roster.UserSearch{Terms: []string{q}, Query: q, Page: roster.Page{Limit: 50}})
				if err != nil || len(users) != 50 || n < 50 {
					b.Fatal(len(users), n, err)
				}
			}
		})
	}
}
