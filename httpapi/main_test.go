package httpapi_test

import (
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// eachStore runs an HTTP test once per store of the matrix: SQLite always,
// PostgreSQL when ROSTER_TEST_POSTGRES is set (ROSTER_TEST_STORE keeps
// one), so that one `go test ./...` holds both stores to the same API
// behaviour. Every newEnv inside uses the subtest's store.
func eachStore(t *testing.T, test func(t *testing.T)) {
	t.Helper()
	rostertest.ForEachStore(t, test)
}
