package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

// storeEnv selects the store the HTTP tests run on: "sqlite" (the default)
// or "postgres".
const storeEnv = "ROSTER_TEST_STORE"

// TestMain runs every HTTP test on SQLite and then, when ROSTER_TEST_POSTGRES
// is set, runs the same binary again with every test on PostgreSQL, so that
// one `go test ./...` holds both stores to the same API behaviour.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(pgtest.EnvVar) == "" {
		fmt.Println("httpapi: HTTP tests ran on SQLite only; set " + pgtest.EnvVar + " to run them on PostgreSQL too")
	} else if os.Getenv(storeEnv) == "" {
		fmt.Println("httpapi: running the HTTP tests again on PostgreSQL")
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), storeEnv+"=postgres")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Println("httpapi: HTTP tests on PostgreSQL failed:", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// openTestStore returns a migrated, empty store of the selected kind that
// closes with the test.
func openTestStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	var db *sqlstore.DB
	var err error
	switch os.Getenv(storeEnv) {
	case "", "sqlite":
		db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	case "postgres":
		db, err = postgres.Open(ctx, pgtest.URL(t), postgres.Options{MaxConns: 8})
	default:
		t.Fatalf("%s=%q: want sqlite or postgres", storeEnv, os.Getenv(storeEnv))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
