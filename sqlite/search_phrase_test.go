package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster/storetest"
)

// TestSearchPhrasesManyMatches runs the suite's search tests with the
// one-pass read of a few matches off, so that every search of terms of
// three or more characters takes the path of a search with many matches:
// counts from users_fts and the column indexes, the page group by group.
func TestSearchPhrasesManyMatches(t *testing.T) {
	storetest.RunSearch(t, func(t *testing.T) storetest.Store {
		ctx := context.Background()
		db, err := open(ctx, filepath.Join(t.TempDir(), "roster.db"), without("phraseFew"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	})
}
