// Package rostertest wires a Roster server for the tests of every package
// (httpapi, client, console, cmd/roster), on a fresh store of each kind the
// machine has: SQLite always, PostgreSQL when ROSTER_TEST_POSTGRES is set.
package rostertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
)

// StoreEnv, when set to "sqlite" or "postgres", keeps only that store in
// the matrix (CI's fuzzing runs on SQLite alone).
const StoreEnv = "ROSTER_TEST_STORE"

// Store kinds.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Stores returns the store kinds the tests run on: SQLite, and PostgreSQL
// when ROSTER_TEST_POSTGRES is set, narrowed to one by ROSTER_TEST_STORE.
func Stores() []string {
	kinds := []string{SQLite}
	if os.Getenv(pgtest.EnvVar) != "" {
		kinds = append(kinds, Postgres)
	}
	if only := os.Getenv(StoreEnv); only != "" {
		return []string{only}
	}
	return kinds
}

// kinds maps the name of each subtest ForEachStore starts to its store.
var kinds sync.Map

// ForEachStore runs f once per store of Stores, as subtests named after
// the store; Open and Start inside f use that store. Without
// ROSTER_TEST_POSTGRES (and ROSTER_TEST_STORE) the PostgreSQL subtest is
// there, skipped with a message.
func ForEachStore(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, kind := range Stores() {
		t.Run(kind, func(t *testing.T) {
			kinds.Store(t.Name(), kind)
			t.Cleanup(func() { kinds.Delete(t.Name()) })
			f(t)
		})
	}
	if os.Getenv(pgtest.EnvVar) == "" && os.Getenv(StoreEnv) == "" {
		t.Run(Postgres, func(t *testing.T) { pgtest.URL(t) }) // skips, saying how to run it
	}
}

// StoreOf returns the store kind of tb: the one of the ForEachStore subtest
// it runs in, else ROSTER_TEST_STORE, else SQLite.
func StoreOf(tb testing.TB) string {
	name := tb.Name()
	for {
		if k, ok := kinds.Load(name); ok {
			return k.(string)
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			break
		}
		name = name[:i]
	}
	if only := os.Getenv(StoreEnv); only != "" {
		return only
	}
	return SQLite
}

// Open returns a migrated, empty store of the kind StoreOf(tb) says, closed
// when the test ends.
func Open(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	return OpenKind(tb, StoreOf(tb))
}

// OpenKind returns a migrated, empty store of kind (SQLite or Postgres),
// closed when the test ends. PostgreSQL stores live in a schema of their own.
func OpenKind(tb testing.TB, kind string) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	var db *sqlstore.DB
	var err error
	switch kind {
	case SQLite:
		db, err = sqlite.Open(ctx, filepath.Join(tb.TempDir(), "roster.db"))
	case Postgres:
		db, err = postgres.Open(ctx, pgtest.URL(tb), postgres.Options{MaxConns: 8})
	default:
		tb.Fatalf("%s=%q: want sqlite or postgres", StoreEnv, kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// Options tune a test server.
type Options struct {
	// API configures the HTTP API; Store, Broker (unless set) and Hasher
	// (unless set) are filled in.
	API httpapi.Config
	// Stream configures the broker made when API.Broker is nil.
	Stream stream.Options
	// Configure, when set, adjusts the app's configuration before New
	// starts it (for instance app.Config.Webhooks, to run the webhook
	// deliverer).
	Configure func(*app.Config)
}

// Server is one test's Roster: the app of package app behind an
// httptest.Server.
type Server struct {
	*app.App
	DB     *sqlstore.DB
	Hasher *password.Hasher
	HTTP   *httptest.Server
	URL    string
}

// New starts a server on db, which stays open when Close returns.
func New(ctx context.Context, db *sqlstore.DB, opts Options) (*Server, error) {
	if opts.API.Hasher == nil {
		opts.API.Hasher = password.NewHasher(2)
	}
	cfg := app.Config{Store: db, API: opts.API, Stream: opts.Stream}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{App: a, DB: db, Hasher: opts.API.Hasher, HTTP: httptest.NewServer(a.API)}
	s.URL = s.HTTP.URL
	return s, nil
}

// Close ends the streams (which would hold the HTTP server's Close), the
// HTTP server and the broker.
func (s *Server) Close() {
	s.CloseStreams()
	s.HTTP.Close()
	s.App.Close()
}

// Start is New on a fresh store of tb's kind (Open); everything closes when
// the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	db := Open(tb)
	s, err := New(context.Background(), db, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// CreateUser stores a user directly, named username with the email
// username@example.com (lower-cased), and a password when pw != "".
func (s *Server) CreateUser(ctx context.Context, username string, admin bool, pw string) (*roster.User, error) {
	hash := ""
	if pw != "" {
		var err error
		if hash, err = s.Hasher.Hash(ctx, pw); err != nil {
			return nil, err
		}
	}
	u := &roster.User{Username: username, Email: strings.ToLower(username) + "@example.com", IsActive: true, IsAdmin: admin,
		Timezone: "UTC", Locale: "en"}
	if err := s.DB.CreateUser(ctx, 0, u, hash); err != nil {
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	return u, nil
}

// Token makes a bearer token for user id, valid for an hour, without going
// through login.
func (s *Server) Token(ctx context.Context, id int64) (string, error) {
	secret, hash := roster.NewTokenSecret()
	err := s.DB.CreateToken(ctx, &roster.Token{UserID: id, Hash: hash, Prefix: roster.TokenPrefix(secret), ExpiresAt: time.Now().Add(time.Hour)})
	return secret, err
}
