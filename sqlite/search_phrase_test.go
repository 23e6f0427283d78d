package sqlite

import (
	"testing"

	"github.com/rosterhq/roster/storetest"
)

// TestSearchPhrasesManyMatches runs the suite's search tests with the
// one-pass read of a few matches off, so that every search of terms of
// three or more characters takes the path of a search with many matches:
// counts from users_fts and the column indexes, the page group by group.
func TestSearchPhrasesManyMatches(t *testing.T) {
	storetest.RunSearch(t, func(t *testing.T) storetest.Store { return openSeeded(t, without("phraseFew"), 0) })
}
