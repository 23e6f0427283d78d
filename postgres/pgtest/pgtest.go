// Package pgtest gives tests a fresh PostgreSQL schema of their own in the
// database named by ROSTER_TEST_POSTGRES, or skips them when it is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable that holds the test database URL.
const EnvVar = "ROSTER_TEST_POSTGRES"

// URL returns a connection URL whose search_path is a new, empty schema
// (then public, where pg_trgm lives). The schema is dropped when the test
// ends. Without ROSTER_TEST_POSTGRES the test is skipped with a message.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		tb.Skip("PostgreSQL tests skipped: set " + EnvVar + " (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	// The extension is database-wide: install it once, in public, under a
	// lock so that parallel test packages do not race on it.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(4242)"); err != nil {
		tb.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
	_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock(4242)")
	if err != nil {
		tb.Fatalf("pgtest: pg_trgm: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "roster_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Logf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Logf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: %s is not a URL: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}
