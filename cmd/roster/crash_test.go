package main

// Crash safety: the built binary serves a SQLite file while concurrent
// writers record every acknowledged (2xx) write; the process is SIGKILLed at
// a random moment, and the file must hold every acknowledged write and pass
// PRAGMA integrity_check. ROSTER_CRASH_ROUNDS sets the number of rounds
// (default 3). See RELIABILITY.md.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/sqlite"
)

// crashLedger holds every write the server acknowledged.
type crashLedger struct {
	mu         sync.Mutex
	users      map[int64]string // id -> username
	bios       map[int64]int    // patched user id -> sequence number of the last acknowledged bio
	activities map[int64]string // id -> object id
	acked      atomic.Int64
	sent       atomic.Int64
}

// crashClient is an HTTP client for one server instance.
type crashClient struct {
	url, token string
	hc         *http.Client
}

// send returns the status and body, or an error when the exchange did not
// complete (the process died): such writes are not acknowledged.
func (c *crashClient) send(method, path string, body any) (int, []byte, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.url+path, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

// startBinary runs `roster serve` on db and waits until it is healthy.
// extra flags are appended to the command line.
func startBinary(t *testing.T, bin, db, pw string, extra ...string) (*exec.Cmd, string, <-chan error, *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	var stderr syncBuffer
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--db", db, "--hash-concurrency", "1"}, extra...)...)
	cmd.Env = cleanEnv("ROSTER_ADMIN_PASSWORD=" + pw)
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	url := "http://" + addr
	waitHealthy(t, url, done, &stderr)
	return cmd, url, done, &stderr
}

func TestCrashSafety(t *testing.T) {
	bin := buildRoster(t)
	rounds := 3
	if v := os.Getenv("ROSTER_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ROSTER_CRASH_ROUNDS=%q: want a positive integer", v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	db := filepath.Join(t.TempDir(), "roster.db")
	const pw = "crash-secret-42"
	led := &crashLedger{users: map[int64]string{}, bios: map[int64]int{}, activities: map[int64]string{}}

	for round := 1; round <= rounds; round++ {
		cmd, url, done, stderr := startBinary(t, bin, db, pw)
		c := &crashClient{url: url, token: mustLogin(t, url, "admin", pw),
			hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}

		// Each patcher owns a user, created (and acknowledged) before the load.
		var targets []int64
		for i := range 3 {
			name := fmt.Sprintf("target%d-%d", round, i)
			status, body, err := c.send("POST", "/api/v3/users", map[string]any{"username": name, "email": name + "@example.com"})
			if err != nil || status != http.StatusCreated {
				t.Fatalf("creating %s: %d %v %s", name, status, err, body)
			}
			var u struct{ ID int64 }
			_ = json.Unmarshal(body, &u)
			led.users[u.ID] = name
			targets = append(targets, u.ID)
		}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		writer := func(kind string, n int, target int64) {
			defer wg.Done()
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				led.sent.Add(1)
				switch kind {
				case "user":
					name := fmt.Sprintf("u%d-%d-%d", round, n, seq)
					status, body, err := c.send("POST", "/api/v3/users", map[string]any{"username": name, "email": name + "@example.com", "bio": "crash"})
					if err != nil {
						return
					}
					if status != http.StatusCreated {
						t.Errorf("create user: %d %s", status, body)
						return
					}
					var u struct{ ID int64 }
					_ = json.Unmarshal(body, &u)
					led.mu.Lock()
					led.users[u.ID] = name
					led.mu.Unlock()
				case "patch":
					status, body, err := c.send("PATCH", "/api/v3/users/"+strconv.FormatInt(target, 10), map[string]any{"bio": "seq-" + strconv.Itoa(seq)})
					if err != nil {
						return
					}
					if status != http.StatusOK {
						t.Errorf("patch: %d %s", status, body)
						return
					}
					led.mu.Lock()
					led.bios[target] = seq
					led.mu.Unlock()
				case "activity":
					obj := fmt.Sprintf("o%d-%d-%d", round, n, seq)
					status, body, err := c.send("POST", "/api/v3/activities", map[string]any{"verb": "crash.write",
						"object": map[string]string{"type": "doc", "id": obj}, "data": map[string]int{"seq": seq}})
					if err != nil {
						return
					}
					if status != http.StatusCreated {
						t.Errorf("post activity: %d %s", status, body)
						return
					}
					var a struct{ ID int64 }
					_ = json.Unmarshal(body, &a)
					led.mu.Lock()
					led.activities[a.ID] = obj
					led.mu.Unlock()
				}
				led.acked.Add(1)
			}
		}
		for i := range 3 {
			wg.Add(3)
			go writer("user", i, 0)
			go writer("activity", i, 0)
			go writer("patch", i, targets[i]) // one patcher per user: "last acknowledged" is well defined
		}
		killAfter := time.Duration(300+rng.IntN(1500)) * time.Millisecond
		time.Sleep(killAfter)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		close(stop)
		wg.Wait()
		if t.Failed() {
			t.Fatalf("round %d: stderr:\n%s", round, stderr)
		}
		checkCrashLedger(t, db, led)
		t.Logf("round %d: killed after %v; %d writes acknowledged so far (%d sent), all present; integrity ok",
			round, killAfter, led.acked.Load(), led.sent.Load())
	}

	// A last restart: the server comes up on the recovered file and serves it.
	_, url, _, _ := startBinary(t, bin, db, pw)
	c := &crashClient{url: url, token: mustLogin(t, url, "admin", pw), hc: httpClient}
	status, body, err := c.send("GET", "/api/v3/users?page_size=1", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("list users after the last restart: %d %v %s", status, err, body)
	}
	var page struct{ Count int }
	_ = json.Unmarshal(body, &page)
	if page.Count < len(led.users)+1 {
		t.Fatalf("after the last restart the server lists %d users, want at least %d", page.Count, len(led.users)+1)
	}
	t.Logf("%d rounds survived: %d writes acknowledged (%d users, %d activities, %d patched users), every one found",
		rounds, led.acked.Load(), len(led.users), len(led.activities), len(led.bios))
}

// checkCrashLedger opens the file the killed process left (SQLite recovers
// the WAL on open) and checks its integrity and every acknowledged write.
func checkCrashLedger(t *testing.T, path string, led *crashLedger) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.WriteDB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil {
		t.Fatal(err)
	}
	if integrity != "ok" {
		t.Fatalf("PRAGMA integrity_check: %s", integrity)
	}
	led.mu.Lock()
	defer led.mu.Unlock()
	for id, name := range led.users {
		u, err := db.FindUserByID(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged user %d (%s): %v", id, name, err)
		}
		if u.Username != name {
			t.Fatalf("acknowledged user %d is %q, want %q", id, u.Username, name)
		}
	}
	for id, seq := range led.bios {
		u, err := db.FindUserByID(ctx, id)
		if err != nil {
			t.Fatalf("patched user %d: %v", id, err)
		}
		// The write after the last acknowledged one may have committed
		// without its answer arriving; an older bio means a lost write.
		n, ok := strings.CutPrefix(u.Bio, "seq-")
		got, err := strconv.Atoi(n)
		if !ok || err != nil || got < seq {
			t.Fatalf("user %d has bio %q after bio seq-%d was acknowledged", id, u.Bio, seq)
		}
	}
	found := map[int64]string{}
	for after := int64(0); ; {
		list, err := db.ActivitiesAfter(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			if a.Object != nil {
				found[a.ID] = a.Object.ID
			}
			after = a.ID
		}
		if len(list) < 1000 {
			break
		}
	}
	for id, obj := range led.activities {
		if found[id] != obj {
			t.Fatalf("acknowledged activity %d (object %s) is missing or changed (found object %q)", id, obj, found[id])
		}
	}
}

// TestCrashWebhookDelivery: activities are posted while a webhook receives
// them slowly (attempts in flight); the server is SIGKILLed twice and
// restarted. Every acknowledged activity reaches the receiver at least
// once, and duplicates (the same webhook-id twice) number at most the
// attempts that can be in flight for one webhook at a kill (4 each).
func TestCrashWebhookDelivery(t *testing.T) {
	bin := buildRoster(t)
	db := filepath.Join(t.TempDir(), "roster.db")
	const pw = "crash-secret-42"
	var mu sync.Mutex
	got := map[int64]int{} // activity id -> requests
	ids := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Data struct{ ID int64 } `json:"data"`
		}
		_ = json.Unmarshal(body, &msg)
		mu.Lock()
		got[msg.Data.ID]++
		ids[r.Header.Get("webhook-id")]++
		mu.Unlock()
		time.Sleep(15 * time.Millisecond)
	}))
	defer rc.Close()
	acked := map[int64]bool{}
	const kills = 2
	for round := 0; round <= kills; round++ {
		cmd, url, done, _ := startBinary(t, bin, db, pw, "--webhook-allow-private")
		c := &crashClient{url: url, token: mustLogin(t, url, "admin", pw), hc: &http.Client{Timeout: 10 * time.Second}}
		if round == 0 {
			status, body, err := c.send("POST", "/api/v3/webhooks", map[string]any{"url": rc.URL, "verbs": []string{"crash.*"}})
			if err != nil || status != http.StatusCreated {
				t.Fatalf("create webhook: %d %v %s", status, err, body)
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for n := range 2 {
			wg.Go(func() {
				for seq := 0; ; seq++ {
					select {
					case <-stop:
						return
					default:
					}
					status, body, err := c.send("POST", "/api/v3/activities", map[string]any{"verb": "crash.hook", "data": map[string]int{"n": n, "seq": seq}})
					if err != nil {
						return
					}
					if status != http.StatusCreated {
						t.Errorf("post: %d %s", status, body)
						return
					}
					var a struct{ ID int64 }
					_ = json.Unmarshal(body, &a)
					mu.Lock()
					acked[a.ID] = true
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(700+rand.IntN(800)) * time.Millisecond)
		if round < kills {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			close(stop)
			wg.Wait()
			continue
		}
		close(stop)
		wg.Wait()
		// The last instance delivers the rest, including the attempts the
		// killed ones had leased (their leases run out after 30 s).
		deadline := time.Now().Add(90 * time.Second)
		for {
			mu.Lock()
			missing := 0
			for id := range acked {
				if got[id] == 0 {
					missing++
				}
			}
			n := len(acked)
			mu.Unlock()
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d acknowledged activities never delivered", missing, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for id, n := range ids {
		if n > 1 {
			dups += n - 1
			t.Logf("%s delivered %d times", id, n)
		}
	}
	t.Logf("%d activities acknowledged, all delivered; %d duplicate deliveries", len(acked), dups)
	if dups > 4*kills {
		t.Fatalf("%d duplicates for %d kills, want at most %d", dups, kills, 4*kills)
	}
}
