package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/webhook"
)

// TestBusyYields: while Busy reports a saturated API, at most BusyWorkers
// attempts are in flight, one per webhook; when it clears, the deliverer
// goes back to Workers and PerWebhook, fans out what was posted meanwhile
// and delivers the backlog.
func TestBusyYields(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	admin := &roster.User{Username: "admin", Email: "admin@example.com", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, admin, ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inFlight, most := map[string]int{}, map[string]int{}
	var total, mostTotal, delivered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		inFlight[r.URL.Path]++
		most[r.URL.Path] = max(most[r.URL.Path], inFlight[r.URL.Path])
		if n := total.Add(1); n > mostTotal.Load() {
			mostTotal.Store(n)
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight[r.URL.Path]--
		total.Add(-1)
		mu.Unlock()
		delivered.Add(1)
	}))
	defer srv.Close()
	const hooks, acts = 4, 30
	for i := range hooks {
		if err := db.CreateWebhook(ctx, admin.ID, &roster.Webhook{URL: srv.URL + "/" + string(rune('a'+i)), Enabled: true, Verbs: []string{"probe.*"}}); err != nil {
			t.Fatal(err)
		}
	}
	for range acts {
		if err := db.CreateActivity(ctx, &roster.Activity{ActorID: admin.ID, Verb: "probe.made"}); err != nil {
			t.Fatal(err)
		}
	}
	// The fan-out waits while busy: these jobs were made before.
	if _, err := db.DispatchWebhookJobs(ctx, 500); err != nil {
		t.Fatal(err)
	}
	var busy atomic.Bool
	busy.Store(true)
	d := webhook.New(webhook.Options{Store: db, Encode: httpapi.ActivityJSON, FormatTime: httpapi.FormatTime,
		AllowPrivate: true, Poll: 20 * time.Millisecond, Workers: 16, PerWebhook: 4, Busy: busy.Load})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()
	waitDelivered := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for delivered.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d delivered", delivered.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitDelivered(40)
	mu.Lock()
	if mostTotal.Load() > 2 {
		t.Errorf("busy: %d attempts in flight at once, want at most 2", mostTotal.Load())
	}
	for path, n := range most {
		if n > 1 {
			t.Errorf("busy: %d attempts in flight to %s, want 1", n, path)
		}
	}
	mu.Unlock()

	const later = 5 // posted while busy: fanned out once it clears
	for range later {
		if err := db.CreateActivity(ctx, &roster.Activity{ActorID: admin.ID, Verb: "probe.made"}); err != nil {
			t.Fatal(err)
		}
	}
	busy.Store(false)
	waitDelivered(hooks * (acts + later))
	mu.Lock()
	defer mu.Unlock()
	if mostTotal.Load() <= 2 {
		t.Errorf("not busy: at most %d attempts in flight, want more than 2", mostTotal.Load())
	}
}
