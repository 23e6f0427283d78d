package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/stream"
)

// scaleServer is what the server process of TestStreamScale tells the client.
type scaleServer struct {
	URL, Debug   string
	Actor        int64
	ActorToken   string
	Workspace    int64
	ViewerTokens []string
}

// scaleMem is the server process's memory after a GC.
type scaleMem struct {
	HeapAlloc, HeapInuse, StackInuse, Sys uint64
	Goroutines, Subscriptions             int
}

// TestStreamScale opens many idle streams against a real server and
// reports the server's memory per stream and the latency of one event
// reaching all of them. The server runs in a child process (this test
// binary again), so its memory is not mixed with the client's. It runs
// only with ROSTER_STREAM_SCALE=1 (ROSTER_STREAM_SCALE_N sets the number of
// streams, default 10000).
func TestStreamScale(t *testing.T) {
	if os.Getenv("ROSTER_STREAM_SCALE_SERVER") == "1" {
		runScaleServer(t)
		return
	}
	if os.Getenv("ROSTER_STREAM_SCALE") != "1" {
		t.Skip("set ROSTER_STREAM_SCALE=1 to open thousands of streams")
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("ROSTER_STREAM_SCALE_N")); err == nil && v > 0 {
		n = v
	}
	raiseFileLimit(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestStreamScale$", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), "ROSTER_STREAM_SCALE_SERVER=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	var srv scaleServer
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "SCALE "); ok {
			if err := json.Unmarshal([]byte(line), &srv); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if srv.URL == "" {
		t.Fatal("server process did not start")
	}
	go func() {
		for sc.Scan() {
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}}
	mem := func() scaleMem {
		res, err := client.Get(srv.Debug)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m scaleMem
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := mem()

	const events = 5
	arrivals := make([][]int64, events) // unix nanos per event per stream
	for i := range arrivals {
		arrivals[i] = make([]int64, n)
	}
	var got [events]atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var connected sync.WaitGroup
	var readers sync.WaitGroup
	sem := make(chan struct{}, 64)
	var openErr atomic.Value
	path := fmt.Sprintf("%s/api/v3/users/%d/stream", srv.URL, srv.Actor)
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		connected.Add(1)
		readers.Add(1)
		go func() {
			defer readers.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+srv.ViewerTokens[i%len(srv.ViewerTokens)])
			res, err := client.Do(req)
			if err == nil && res.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
			<-sem
			if err != nil {
				openErr.Store(err)
				connected.Done()
				return
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			first := true
			k := 0
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if first && strings.HasPrefix(line, "retry:") {
					first = false
					connected.Done()
				}
				if strings.HasPrefix(line, "id: ") && k < events {
					arrivals[k][i] = time.Now().UnixNano()
					got[k].Add(1)
					k++
				}
			}
		}()
	}
	connected.Wait()
	if err := openErr.Load(); err != nil {
		t.Fatalf("opening streams: %v", err)
	}
	t.Logf("%d streams open in %v", n, time.Since(start).Round(time.Millisecond))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := mem(); m.Subscriptions == n {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("server has %d subscriptions, want %d", m.Subscriptions, n)
		}
	}
	after := mem()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	t.Logf("server, per idle stream: heap %.0f B (HeapAlloc), %.0f B (HeapInuse), goroutine stacks %.0f B, total Sys %.0f B, %.2f goroutines",
		per(after.HeapAlloc, before.HeapAlloc), per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse),
		per(after.Sys, before.Sys), float64(after.Goroutines-before.Goroutines)/float64(n))

	var all []time.Duration
	for k := range events {
		t0 := time.Now()
		body := strings.NewReader(fmt.Sprintf(`{"verb":"scale.tick","workspace":%d,"data":{"k":%d}}`, srv.Workspace, k))
		req, _ := http.NewRequest("POST", srv.URL+"/api/v3/activities", body)
		req.Header.Set("Authorization", "Bearer "+srv.ActorToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d", res.StatusCode)
		}
		for deadline := time.Now().Add(30 * time.Second); got[k].Load() < int64(n) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		var lat []time.Duration
		for _, at := range arrivals[k] {
			if at != 0 {
				lat = append(lat, time.Duration(at-t0.UnixNano()))
			}
		}
		slices.Sort(lat)
		all = append(all, lat...)
		if len(lat) == 0 {
			t.Fatalf("event %d reached no stream", k)
		}
		t.Logf("event %d: delivered to %d/%d streams (missed %d), p50 %v, p99 %v, max %v", k, len(lat), n, n-len(lat),
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	}
	slices.Sort(all)
	t.Logf("all events: %d deliveries of %d, p50 %v, p99 %v", len(all), events*n,
		all[len(all)/2].Round(time.Microsecond), all[len(all)*99/100].Round(time.Microsecond))
	if missed := events*n - len(all); missed != 0 {
		t.Errorf("%d deliveries missed", missed)
	}
	cancel()
	readers.Wait()
}

// runScaleServer is the server side of TestStreamScale: a real server on
// a fresh database, with viewers (admins and users with workspace access)
// and an actor; it answers until its stdin closes.
func runScaleServer(t *testing.T) {
	raiseFileLimit(t)
	e := newEnvStream(t, httpapi.Config{}, stream.Options{MaxPerUser: 1 << 20})
	ctx := context.Background()
	x := e.createUser("actor", false, "")
	ws := &roster.Workspace{Name: "scale"}
	if err := e.db.CreateWorkspace(ctx, e.Admin.ID, ws); err != nil {
		t.Fatal(err)
	}
	grant := func(u *roster.User) {
		if err := e.db.SetGrant(ctx, e.Admin.ID, ws.ID, &roster.Grant{Subject: roster.Subject{Type: "user", ID: u.ID}, Role: roster.RoleViewer}); err != nil {
			t.Fatal(err)
		}
	}
	grant(x)
	info := scaleServer{URL: e.URL, Actor: x.ID, ActorToken: e.token(x), Workspace: ws.ID}
	for i := range 10 {
		u := e.createUser(fmt.Sprintf("viewer%d", i), i < 5, "")
		if i >= 5 {
			grant(u)
		}
		info.ViewerTokens = append(info.ViewerTokens, e.token(u))
	}
	debug := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(scaleMem{HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Sys: ms.Sys,
			Goroutines: runtime.NumGoroutine(), Subscriptions: e.broker.Count()})
	}))
	defer debug.Close()
	info.Debug = debug.URL
	line, _ := json.Marshal(info)
	fmt.Printf("SCALE %s\n", line)
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			return
		}
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard one.
func raiseFileLimit(t *testing.T) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Logf("raise file limit: %v", err)
	}
}
