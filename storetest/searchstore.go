package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/rosterhq/roster"
)

// BenchStoredSearchWrites measures what the stored search counts cost a
// user write: UpdateUser of a first name (which the search_counts triggers
// test against every stored search, and apply to those it matches, about
// one in ten here) with no stored search and with 256, the most a store
// keeps. raw is the store's database, to fill search_counts directly.
func BenchStoredSearchWrites(b *testing.B, s Store, raw *sql.DB) {
	ctx := context.Background()
	u := user("writer")
	if err := s.CreateUser(ctx, 0, u, ""); err != nil {
		b.Fatal(err)
	}
	for _, stored := range []int{0, 256} {
		if _, err := raw.ExecContext(ctx, "DELETE FROM search_counts"); err != nil {
			b.Fatal(err)
		}
		for i := range stored {
			if _, err := raw.ExecContext(ctx, fmt.Sprintf(
				"INSERT INTO search_counts (query, active, terms, total, prefix) VALUES ('q%d', %d, 'e%d', 0, 0)", i, i%3-1, i%10)); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				name := fmt.Sprintf("name%d", i)
				if _, err := s.UpdateUser(ctx, 0, u.ID, roster.UserUpdate{FirstName: &name}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
