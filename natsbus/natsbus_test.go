package natsbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/natsbus"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

// startNATS runs a test-owned JetStream server on port (-1: any free
// port) with its storage in dir.
func startNATS(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s
}

func TestExportAcrossRestartSQLite(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testExportAcrossRestart(t, db)
}

func TestExportAcrossRestartPostgres(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Skip("set " + pgtest.EnvVar)
	}
	db, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testExportAcrossRestart(t, db)
}

// testExportAcrossRestart publishes activities, stops the NATS server,
// records more, starts it again on the same port and storage, and checks
// that the stream holds every activity once, in id order, with the feed's
// JSON, the verb's subject and Nats-Msg-Id <installation>-<id>.
func testExportAcrossRestart(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	admin := &roster.User{Username: "admin", Email: "admin@example.com", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, admin, ""); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ns := startNATS(t, -1, dir)
	port := ns.Addr().(interface{ String() string }).String()
	url := "nats://" + port
	inst, err := db.Installation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ex := natsbus.New(natsbus.Options{URL: url, Store: db, Encode: httpapi.ActivityJSON, Installation: inst, Poll: 20 * time.Millisecond})
	db.OnPublish(func(int64) { ex.Notify() })
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ex.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()
	post := func(n int, verb string) {
		for range n {
			if err := db.CreateActivity(ctx, &roster.Activity{ActorID: admin.ID, Verb: verb, Data: json.RawMessage(`{"k":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	post(20, "document.created")
	waitStream(t, url, 21) // and the admin's user.created
	ns.Shutdown()
	ns.WaitForShutdown()
	post(15, "user.poked") // the bus is down: these wait in the database
	time.Sleep(300 * time.Millisecond)
	var tcp struct{ port int }
	_, _ = fmt.Sscanf(port[len("127.0.0.1:"):], "%d", &tcp.port)
	ns = startNATS(t, tcp.port, dir)
	defer ns.Shutdown()
	post(5, "document.created")
	msgs := waitStream(t, url, 41)
	acts, err := db.ActivitiesAfter(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(acts) {
		t.Fatalf("stream holds %d messages, the database %d activities", len(msgs), len(acts))
	}
	for i, a := range acts {
		m := msgs[i]
		want, _ := httpapi.ActivityJSON(a)
		if m.Subject() != "roster.activities."+a.Verb || string(m.Data()) != string(want) ||
			m.Headers().Get("Nats-Msg-Id") != fmt.Sprintf("%s-%d", inst, a.ID) {
			t.Fatalf("message %d: %s %s %v, want activity %s", i, m.Subject(), m.Data(), m.Headers(), want)
		}
	}
}

// waitStream waits until ROSTER_ACTIVITIES holds n messages and returns
// them in stream order.
func waitStream(t *testing.T, url string, n int) []jetstream.Msg {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		st, err := js.Stream(ctx, natsbus.Stream)
		if err == nil {
			info, err := st.Info(ctx)
			if err == nil && info.State.Msgs >= uint64(n) {
				if info.State.Msgs > uint64(n) {
					t.Fatalf("stream holds %d messages, want %d", info.State.Msgs, n)
				}
				c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
				if err != nil {
					t.Fatal(err)
				}
				batch, err := c.FetchNoWait(n)
				if err != nil {
					t.Fatal(err)
				}
				var out []jetstream.Msg
				for m := range batch.Messages() {
					out = append(out, m)
				}
				if len(out) != n {
					t.Fatalf("fetched %d of %d", len(out), n)
				}
				return out
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("stream did not reach %d messages: %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
