package httpapi_test

// Load tests on loopback through the production http.Server
// (httpapi.NewHTTPServer): a soak of concurrent readers and writers, and
// slowloris. By default the soak runs 5 s with 50 clients; its long forms
// are behind ROSTER_SOAK: a duration (ROSTER_SOAK=20s) runs that long with
// 50 clients, ROSTER_SOAK=1 at full length (about 3 minutes, 200 clients).
// See RELIABILITY.md.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
)

// prodServer serves e's handler through httpapi.NewHTTPServer on a loopback
// port, for the timeouts of production; it closes with the test.
func (e *env) prodServer() string {
	e.t.Helper()
	hs := httpapi.NewHTTPServer("127.0.0.1:0", e.srv.Config.Handler, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	e.t.Cleanup(func() {
		hs.Close()
		if err := <-done; err != http.ErrServerClosed {
			e.t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestSoak(t *testing.T) { eachStore(t, testSoak) }

func testSoak(t *testing.T) {
	dur, clients := 5*time.Second, 50
	switch v := os.Getenv("ROSTER_SOAK"); v {
	case "":
	case "1":
		dur, clients = 3*time.Minute, 200
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("ROSTER_SOAK=%q: want 1 (the full soak) or a duration such as 20s", v)
		}
		dur = d
	}
	e := newEnv(t)
	base := e.prodServer()
	ws := e.mustWorkspace("Soak", nil)
	type client struct {
		user  *roster.User
		token string
	}
	cs := make([]client, clients)
	for i := range cs {
		u := e.createUser(fmt.Sprintf("soak%03d", i), false, "")
		if err := e.db.SetGrant(t.Context(), e.Admin.ID, ws, &roster.Grant{Subject: roster.Subject{Type: "user", ID: u.ID}, Role: roster.RoleMember}); err != nil {
			t.Fatal(err)
		}
		cs[i] = client{u, e.token(u)}
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

	var served, failures atomic.Int64
	var mu sync.Mutex
	byOp := map[string]int{}
	var samples []string
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			mu.Lock()
			samples = append(samples, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
	}
	type op struct {
		name, method, path string
		body               any
		want               int
	}
	ops := func(c client, r *rand.Rand, n int) op {
		other := cs[r.IntN(len(cs))].user.ID
		switch r.IntN(10) {
		case 0:
			return op{"list", "GET", "/api/v3/users?page_size=20&ordering=-username", nil, 200}
		case 1:
			return op{"get", "GET", "/api/v3/users/" + itoa(other), nil, 200}
		case 2:
			return op{"search", "GET", fmt.Sprintf("/api/v3/users/search?q=soak%d", r.IntN(10)), nil, 200}
		case 3:
			return op{"me", "GET", "/api/v3/users/me", nil, 200}
		case 4:
			return op{"patch", "PATCH", "/api/v3/users/" + itoa(c.user.ID), map[string]string{"bio": fmt.Sprintf("bio %d", n)}, 200}
		case 5, 6:
			return op{"post", "POST", "/api/v3/activities", map[string]any{"verb": "soak.write", "workspace": ws,
				"object": map[string]string{"type": "doc", "id": fmt.Sprint(n)}, "data": map[string]int{"n": n}}, 201}
		case 7:
			return op{"feed", "GET", "/api/v3/workspaces/" + itoa(ws) + "/activities?page_size=20&verb=soak.*", nil, 200}
		case 8:
			return op{"count", "GET", "/api/v3/users/" + itoa(other) + "/activities/count", nil, 200}
		default:
			return op{"active", "GET", "/api/v3/users/" + itoa(other) + "/activeworkspaces", nil, 200}
		}
	}

	start := time.Now()
	deadline := start.Add(dur)
	var heapWarm, heapMax uint64
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for n := 0; time.Now().Before(deadline); n++ {
				o := ops(c, r, n)
				var rd io.Reader
				if o.body != nil {
					b, _ := json.Marshal(o.body)
					rd = bytes.NewReader(b)
				}
				req, _ := http.NewRequest(o.method, base+o.path, rd)
				req.Header.Set("Authorization", "Bearer "+c.token)
				if o.body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := hc.Do(req)
				if err != nil {
					fail("%s %s: %v", o.method, o.path, err)
					continue
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				served.Add(1)
				switch {
				case err != nil:
					fail("%s %s: reading the body: %v", o.method, o.path, err)
				case res.StatusCode != o.want:
					fail("%s %s: %d: %s", o.method, o.path, res.StatusCode, body)
				case bytes.Contains(body, []byte("database is locked")):
					fail("%s %s: %s", o.method, o.path, body)
				}
				mu.Lock()
				byOp[o.name]++
				mu.Unlock()
			}
		})
	}
	// Heap: the first sample after a quarter of the run (warm-up), then
	// one a second; the largest must stay near the warm one.
	sample := time.NewTicker(time.Second)
	for now := range sample.C {
		if now.After(deadline) {
			break
		}
		h := heapAfterGC()
		if heapWarm == 0 && now.Sub(start) >= dur/4 {
			heapWarm = h
		} else if heapWarm != 0 {
			heapMax = max(heapMax, h)
		}
	}
	sample.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	heapEnd := heapAfterGC()
	heapMax = max(heapMax, heapEnd)

	t.Logf("soak: %d clients, %v, %d requests served (%.0f/s), %d failures; by operation %v",
		clients, elapsed.Round(time.Second), served.Load(), float64(served.Load())/elapsed.Seconds(), failures.Load(), byOp)
	t.Logf("soak: heap after GC: %.1f MiB at warm-up, at most %.1f MiB after, %.1f MiB at the end",
		float64(heapWarm)/(1<<20), float64(heapMax)/(1<<20), float64(heapEnd)/(1<<20))
	if failures.Load() > 0 {
		t.Fatalf("%d failed requests; first ones:\n%s", failures.Load(), strings.Join(samples, "\n"))
	}
	if served.Load() < int64(clients) {
		t.Fatalf("only %d requests served", served.Load())
	}
	// Generous: twice the warm heap plus 32 MiB. A leak per request (a
	// goroutine, a buffer, a statement) over thousands of requests exceeds it.
	if heapWarm > 0 && heapMax > 2*heapWarm+32<<20 {
		t.Fatalf("heap grew from %d to %d bytes after warm-up", heapWarm, heapMax)
	}
}

// TestSlowloris holds many connections that send their headers a byte at
// a time: ReadHeaderTimeout (5 s) cuts each one, while ordinary requests
// are served meanwhile.
func TestSlowloris(t *testing.T) { eachStore(t, testSlowloris) }

func testSlowloris(t *testing.T) {
	e := newEnv(t)
	base := e.prodServer()
	addr := strings.TrimPrefix(base, "http://")
	const n = 200
	start := time.Now()
	closedAfter := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /api/v3/users/me HTTP/1.1\r\nHost: roster\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			// Trickle one header byte a second until the server hangs up.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()
			_ = conn.SetReadDeadline(start.Add(15 * time.Second))
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(buf); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						closedAfter[i] = -1
					} else {
						closedAfter[i] = time.Since(start)
					}
					return
				}
			}
		})
	}
	// Meanwhile, ordinary requests are answered.
	hc := &http.Client{Timeout: 3 * time.Second}
	okCount := 0
	for time.Since(start) < 4*time.Second {
		req, _ := http.NewRequest("GET", base+"/api/v3/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+e.AdminToken)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("ordinary request during slowloris: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("ordinary request during slowloris: %d", res.StatusCode)
		}
		okCount++
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	var latest time.Duration
	for i, d := range closedAfter {
		if d < 0 {
			t.Fatalf("slow connection %d still open after 15 s", i)
		}
		if d < 4*time.Second {
			t.Fatalf("slow connection %d closed after %v, before the header timeout", i, d)
		}
		latest = max(latest, d)
	}
	t.Logf("%d slow connections all cut by %v; %d ordinary requests served meanwhile", n, latest.Round(10*time.Millisecond), okCount)
}
