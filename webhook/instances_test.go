package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/webhook"
)

// TestInstancesShareWorkPostgres: two instances (two stores on one
// PostgreSQL database, each with its Deliverer) deliver every activity to
// every webhook exactly once (receivers always succeed, so any second
// attempt would be a duplicate), and both take part.
func TestInstancesShareWorkPostgres(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Skip("set " + pgtest.EnvVar)
	}
	url := pgtest.URL(t)
	open := func() *sqlstore.DB {
		db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := open()
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	testInstances(t, a, open())
}

// TestInstancesShareWorkSQLite is the same on two stores of one SQLite file.
func TestInstancesShareWorkSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	open := func() *sqlstore.DB {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := open()
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	testInstances(t, a, open())
}

func testInstances(t *testing.T, a, b *sqlstore.DB) {
	ctx := context.Background()
	admin := &roster.User{Username: "admin", Email: "admin@example.com", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
	if err := a.CreateUser(ctx, 0, admin, ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
	}))
	defer srv.Close()
	const hooks, acts = 3, 150
	for i := range hooks {
		if err := a.CreateWebhook(ctx, admin.ID, &roster.Webhook{URL: srv.URL + "/" + string(rune('a'+i)), Enabled: true, Verbs: []string{"probe.*"}}); err != nil {
			t.Fatal(err)
		}
	}
	inst, err := a.Installation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]*counter, 2)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, db := range []*sqlstore.DB{a, b} {
		c := &counter{}
		counts[i] = c
		d := webhook.New(webhook.Options{Store: countingStore{db, c}, Encode: httpapi.ActivityJSON, FormatTime: httpapi.FormatTime,
			Installation: inst, AllowPrivate: true, Poll: 50 * time.Millisecond, Workers: 4})
		wg.Go(func() { _ = d.Run(runCtx) })
	}
	posted := time.Now()
	for i := range acts {
		db := a
		if i%2 == 1 {
			db = b
		}
		if err := db.CreateActivity(ctx, &roster.Activity{ActorID: admin.ID, Verb: "probe.made"}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("posted %d activities in %s", acts, time.Since(posted))
	deadline := time.Now().Add(120 * time.Second) // generous: -race on a loaded machine
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == hooks*acts {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered", n, hooks*acts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("delivered %d messages %s after the first post", hooks*acts, time.Since(posted))
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	ca, cb := counts[0].get(), counts[1].get()
	if ca+cb != hooks*acts || ca == 0 || cb == 0 {
		t.Fatalf("instances finished %d and %d jobs, want %d in all, both > 0", ca, cb, hooks*acts)
	}
	t.Logf("instance a finished %d jobs, b %d", ca, cb)
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// countingStore counts the jobs an instance finishes.
type countingStore struct {
	*sqlstore.DB
	c *counter
}

func (s countingStore) FinishWebhookJobs(ctx context.Context, owner string, done []roster.WebhookFinish) error {
	s.c.mu.Lock()
	s.c.n += len(done)
	s.c.mu.Unlock()
	return s.DB.FinishWebhookJobs(ctx, owner, done)
}
