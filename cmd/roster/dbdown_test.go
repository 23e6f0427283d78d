package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/postgres/pgtest"
)

// tcpProxy forwards connections to a target until it is cut; it stands in
// for a database server that goes away and comes back.
type tcpProxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	mode  string // "up", "down" (refuse connections) or "hang" (accept, never answer)
	conns map[net.Conn]struct{}
	cond  *sync.Cond // signalled when mode changes
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{target: target, addr: ln.Addr().String(), mode: "up", conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.serve(ln)
	t.Cleanup(func() {
		p.set(t, "down")
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			mode := p.mode
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			if mode == "hang" {
				continue // held open, never answered, closed by the next set
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

func (p *tcpProxy) pipe(c net.Conn) {
	defer p.drop(c)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.mode != "up" {
		p.mu.Unlock()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done
}

// copy forwards bytes; in "hang" mode it holds them (a stalled network).
func (p *tcpProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.mode == "hang" {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *tcpProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// set switches the proxy to forward connections ("up"), to refuse them
// with every open one cut ("down": nothing listens on the port), or to a
// network black hole ("hang": open connections stall, new ones are
// accepted and never answered). Leaving "hang" cuts what it held.
func (p *tcpProxy) set(t *testing.T, mode string) {
	t.Helper()
	p.mu.Lock()
	if mode != "hang" {
		for c := range p.conns {
			c.Close()
		}
	}
	p.mode = mode
	p.cond.Broadcast()
	ln := p.ln
	p.mu.Unlock()
	if mode == "down" {
		if ln != nil {
			ln.Close()
			p.mu.Lock()
			p.ln = nil
			p.mu.Unlock()
		}
		return
	}
	if ln == nil {
		var err error
		for i := 0; i < 50; i++ {
			if ln, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		}
		p.mu.Lock()
		p.serve(ln)
		p.mu.Unlock()
	}
}

// viaProxy rewrites a postgres:// URL to reach its server through addr.
func viaProxy(t *testing.T, raw, addr string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// hostOf returns the host:port of a postgres:// URL (5432 by default).
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// timedGet sends a GET and returns the status and how long the answer took;
// a request that gets no answer within the client's 20 s fails the test.
func timedGet(t *testing.T, client *http.Client, url, token string) (int, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: no answer after %s: %v", url, time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), time.Since(start)
}

// TestServeDatabaseDown runs `serve` on PostgreSQL through a proxy, takes
// the database away (connections refused, then a black hole that accepts
// and never answers), and checks that requests get 503 problem answers
// instead of hanging or failing with 500, that /readyz says 503 while
// /healthz stays 200, and that everything recovers when the database is back.
func TestServeDatabaseDown(t *testing.T) {
	base := pgtest.URL(t)
	proxy := newTCPProxy(t, hostOf(t, base))
	const pw = "db-down-secret"
	s := startServe(t, map[string]string{"ROSTER_ADMIN_PASSWORD": pw}, "--db", viaProxy(t, base, proxy.addr), "--db-pool", "4", "--db-timeout", "2s")
	token := mustLogin(t, s.URL, "admin", pw)
	client := &http.Client{Timeout: 20 * time.Second}

	checkUp := func(when string) {
		t.Helper()
		for _, path := range []string{"/readyz", "/api/v3/users/me", "/api/v3/users", "/api/v3/users/1/activities"} {
			if status, body, _ := timedGet(t, client, s.URL+path, token); status != http.StatusOK {
				t.Fatalf("%s: GET %s = %d, want 200; body: %s", when, path, status, body)
			}
		}
	}
	checkUp("before the outage")

	// Every acknowledged (201) activity must survive the outages; attempts
	// during an outage must fail with 503, never be acknowledged.
	var acked []int64
	post := func(when string, want int) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL+"/api/v3/activities", strings.NewReader(`{"verb":"outage.probe","data":{"when":"`+when+`"}}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: POST activity: %v", when, err)
		}
		defer resp.Body.Close()
		var a struct {
			ID int64 `json:"id"`
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s: POST activity = %d, want %d; body: %s", when, resp.StatusCode, want, body)
		}
		if resp.StatusCode == http.StatusCreated {
			if err := json.Unmarshal(body, &a); err != nil || a.ID == 0 {
				t.Fatalf("%s: POST activity: bad body %s", when, body)
			}
			acked = append(acked, a.ID)
		}
	}
	for range 5 {
		post("before", http.StatusCreated)
	}

	for _, mode := range []string{"down", "hang"} {
		proxy.set(t, mode)
		post("during "+mode, http.StatusServiceUnavailable)
		var slowest time.Duration
		for _, path := range []string{"/api/v3/users/me", "/api/v3/users", "/api/v3/users/1/activities", "/api/v3/users/search?q=adm", "/readyz"} {
			status, body, took := timedGet(t, client, s.URL+path, token)
			slowest = max(slowest, took)
			if status != http.StatusServiceUnavailable {
				t.Fatalf("database %s: GET %s = %d, want 503; body: %s\nlog:\n%s", mode, path, status, body, s.stderr)
			}
			if !strings.Contains(body, `"status":503`) {
				t.Fatalf("database %s: GET %s: body is not a 503 problem: %s", mode, path, body)
			}
		}
		if status, _, _ := timedGet(t, client, s.URL+"/healthz", ""); status != http.StatusOK {
			t.Fatalf("database %s: /healthz = %d, want 200 (the process is up)", mode, status)
		}
		t.Logf("database %s: slowest 503 answer took %s", mode, slowest.Round(time.Millisecond))

		proxy.set(t, "up")
		deadline := time.Now().Add(15 * time.Second)
		for {
			status, _, _ := timedGet(t, client, s.URL+"/readyz", "")
			if status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the database came back (%s), /readyz still answers %d after 15 s", mode, status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		checkUp("after the database came back from " + mode)
		for range 5 {
			post("after "+mode, http.StatusCreated)
		}
	}
	// All acknowledged writes are there, once each.
	var feed struct {
		Count   int `json:"count"`
		Results []struct {
			ID   int64  `json:"id"`
			Verb string `json:"verb"`
		} `json:"results"`
	}
	_, body, _ := timedGet(t, client, s.URL+"/api/v3/users/1/activities?verb=outage.probe&page_size=1000", token)
	if err := json.Unmarshal([]byte(body), &feed); err != nil {
		t.Fatalf("feed: %v: %s", err, body)
	}
	have := map[int64]int{}
	for _, a := range feed.Results {
		have[a.ID]++
	}
	for _, id := range acked {
		if have[id] != 1 {
			t.Errorf("acknowledged activity %d found %d times after the outages", id, have[id])
		}
	}
	t.Logf("%d acknowledged writes, all found; %d probes in the feed", len(acked), feed.Count)
	if strings.Contains(s.stderr.String(), `"status":500`) {
		t.Errorf("a request failed with 500 during the outage; log:\n%s", s.stderr)
	}
	if err := s.stop(t); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("serve returned %v", err)
	}
}
