package postgres_test

import (
	"testing"

	"github.com/rosterhq/roster/storetest"
)

// BenchmarkStoredSearchWrites measures a user write with 0 and 256 stored
// search counts (storetest.BenchStoredSearchWrites); it needs
// ROSTER_TEST_POSTGRES.
func BenchmarkStoredSearchWrites(b *testing.B) {
	db := mustOpen(b)
	storetest.BenchStoredSearchWrites(b, db, db.WriteDB())
}
