package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/postgres/pgtest"
)

// sseEvent is one activity received on a stream, with when it arrived.
type sseEvent struct {
	id int64
	at time.Time
}

// sseConn is one open stream; events arrive on ch until the stream ends.
type sseConn struct {
	ch   chan sseEvent
	done chan error
}

// openStream connects to GET /api/v3/users/{actor}/stream and returns once
// the server has flushed its headers and retry line, i.e. once the
// subscription is registered. resume < 0 opens a live stream; otherwise it is
// sent as Last-Event-ID (or as ?lastEventId= when inQuery).
func openStream(ctx context.Context, t *testing.T, client *http.Client, base, token string, actor, resume int64, inQuery bool) *sseConn {
	t.Helper()
	u := fmt.Sprintf("%s/api/v3/users/%d/stream", base, actor)
	if resume >= 0 && inQuery {
		u += "?lastEventId=" + strconv.FormatInt(resume, 10)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resume >= 0 && !inQuery {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(resume, 10))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("open stream %s: %v", u, err)
		return nil
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Errorf("open stream %s: status %d, Content-Type %q", u, resp.StatusCode, resp.Header.Get("Content-Type"))
		return nil
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "retry: 3000\n" {
		resp.Body.Close()
		t.Errorf("stream %s: first line %q, %v; want the retry hint", u, line, err)
		return nil
	}
	c := &sseConn{ch: make(chan sseEvent, 1024), done: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		defer close(c.ch)
		var id int64 = -1
		var event string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				c.done <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				if event == "activity" {
					var a struct{ ID int64 }
					if json.Unmarshal([]byte(line[6:]), &a) != nil || a.ID != id {
						c.done <- fmt.Errorf("event id %d with data %s", id, line[6:])
						return
					}
					c.ch <- sseEvent{id: id, at: time.Now()}
				} else if event == "error" {
					c.done <- fmt.Errorf("server ended the stream: %s", line[6:])
					return
				}
			case line == "":
				id, event = -1, ""
			}
		}
	}()
	return c
}

// streamLog is everything one client received, over one or more connections.
type streamLog struct {
	name     string
	instance int // where it is connected for its whole life; -1 if it hops
	from     int64
	mu       sync.Mutex
	events   []sseEvent
	hops     int
}

func (l *streamLog) add(e sseEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *streamLog) last() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return l.from
	}
	return l.events[len(l.events)-1].id
}

// posted is an activity a writer created: its id, the instance that
// answered and when the answer was read.
type posted struct {
	id       int64
	instance int
	at       time.Time
}

// TestTwoInstancesStreamExactlyOnce runs two `roster serve` on one
// PostgreSQL schema, with writers posting activities through both at once
// and streams held on both: some for the whole run, some hopping from one
// instance to the other mid-load with Last-Event-ID. Every stream must get
// every activity of the actor exactly once, in increasing id order, the
// same list as the feed. It logs the cross-instance delivery latency: from
// a POST answered by one instance to the event on a stream of the other.
func TestTwoInstancesStreamExactlyOnce(t *testing.T) {
	base := pgtest.URL(t)
	const pw = "two-instances-secret"
	env := map[string]string{"ROSTER_ADMIN_PASSWORD": pw}
	inst := []*server{
		startServe(t, env, "--db", base, "--db-pool", "6", "--log-format", "text"),
		startServe(t, env, "--db", base, "--db-pool", "6", "--log-format", "text"),
	}
	if n := strings.Count(inst[0].stdout.String()+inst[1].stdout.String(), adminLinePrefix); n != 1 {
		t.Fatalf("the admin was created %d times by two instances, want once", n)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	call := func(i int, method, path, token string, body any, want int) map[string]any {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, inst[i].URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s on instance %d: %v", method, path, i, err)
			return nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Errorf("%s %s on instance %d: status %d, want %d: %v", method, path, i, resp.StatusCode, want, out)
			return nil
		}
		return out
	}

	admin := mustLogin(t, inst[0].URL, "admin", pw)
	w := call(1, "POST", "/api/v3/users", admin, map[string]any{"username": "writer", "email": "writer@example.com", "password": "writer-secret-1"}, 201)
	if w == nil {
		t.FailNow()
	}
	actor := int64(w["id"].(float64))
	tokens := []string{mustLogin(t, inst[0].URL, "writer", "writer-secret-1"), mustLogin(t, inst[1].URL, "writer", "writer-secret-1")}

	// The feed (newest first, paginated) read through instance i, as ids in
	// increasing order.
	feed := func(i int) []int64 {
		t.Helper()
		var ids []int64
		for page := 1; ; page++ {
			out := call(i, "GET", fmt.Sprintf("/api/v3/users/%d/activities?page_size=1000&page=%d", actor, page), admin, nil, 200)
			if out == nil {
				t.FailNow()
			}
			for _, r := range out["results"].([]any) {
				ids = append(ids, int64(r.(map[string]any)["id"].(float64)))
			}
			if out["next"] == nil {
				break
			}
		}
		slices.Reverse(ids)
		return ids
	}
	before := feed(0) // the writer's logins
	if len(before) != 2 {
		t.Fatalf("feed before the load has %d activities, want the writer's 2 logins", len(before))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// Streams held on one instance for the whole run: from the start of the
	// feed (Last-Event-ID: 0) and live-only, as the admin and as the actor.
	var logs []*streamLog
	hold := func(name string, i int, token string, from int64) {
		l := &streamLog{name: name, instance: i, from: max(from, 0)}
		if from < 0 {
			l.from = before[len(before)-1]
		}
		c := openStream(ctx, t, client, inst[i].URL, token, actor, from, false)
		if c == nil {
			t.FailNow()
		}
		logs = append(logs, l)
		wg.Go(func() {
			for e := range c.ch {
				l.add(e)
			}
			if err := <-c.done; ctx.Err() == nil {
				t.Errorf("%s ended early: %v", name, err)
			}
		})
	}
	hold("A admin from 0", 0, admin, 0)
	hold("B actor from 0", 1, tokens[1], 0)
	hold("A actor live", 0, tokens[0], -1)
	hold("B admin live", 1, admin, -1)

	// Streams that hop to the other instance every few dozen events,
	// resuming with Last-Event-ID (header or query) where they left off;
	// what was queued but not yet read when one hops comes again in replay.
	hopper := func(name string, start int, token string, inQuery bool) {
		l := &streamLog{name: name, instance: -1}
		logs = append(logs, l)
		wg.Go(func() {
			i := start
			for ctx.Err() == nil {
				cctx, ccancel := context.WithCancel(ctx)
				c := openStream(cctx, t, client, inst[i].URL, token, actor, l.last(), inQuery)
				if c == nil {
					ccancel()
					return
				}
				l.mu.Lock()
				l.hops++
				l.mu.Unlock()
				quota := 20 + rand.IntN(40)
				for e := range c.ch {
					l.add(e)
					if quota--; quota == 0 {
						break
					}
				}
				ccancel()
				for range c.ch { // drain until the reader goroutine ends
				}
				i = 1 - i
			}
		})
	}
	hopper("hopper from A (header)", 0, admin, false)
	hopper("hopper from B (query)", 1, tokens[1], true)

	// Writers: two per instance, posting concurrently.
	const writers, perWriter = 4, 75
	var pmu sync.Mutex
	var posts []posted
	var ww sync.WaitGroup
	for n := range writers {
		i := n % 2
		ww.Go(func() {
			for k := range perWriter {
				out := call(i, "POST", "/api/v3/activities", tokens[i], map[string]any{"verb": "load.tick", "data": map[string]any{"writer": n, "k": k}}, 201)
				at := time.Now()
				if out == nil {
					return
				}
				pmu.Lock()
				posts = append(posts, posted{id: int64(out["id"].(float64)), instance: i, at: at})
				pmu.Unlock()
				time.Sleep(time.Duration(rand.IntN(8)) * time.Millisecond)
			}
		})
	}
	ww.Wait()
	if t.Failed() {
		t.FailNow()
	}

	want := feed(0)
	if other := feed(1); !slices.Equal(want, other) {
		t.Fatalf("the feed differs between the instances:\nA: %v\nB: %v", want, other)
	}
	if len(want) != len(before)+writers*perWriter {
		t.Fatalf("feed has %d activities, want %d", len(want), len(before)+writers*perWriter)
	}
	postedIDs := make([]int64, 0, len(posts))
	for _, p := range posts {
		postedIDs = append(postedIDs, p.id)
	}
	slices.Sort(postedIDs)
	if !slices.Equal(postedIDs, want[len(before):]) {
		t.Fatalf("posted ids %v are not the feed's new ids %v", postedIDs, want[len(before):])
	}
	final := want[len(want)-1]
	deadline := time.Now().Add(30 * time.Second)
	for _, l := range logs {
		for l.last() < final && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	cancel()
	wg.Wait()

	for _, l := range logs {
		var expect []int64
		for _, id := range want {
			if id > l.from {
				expect = append(expect, id)
			}
		}
		got := make([]int64, len(l.events))
		for k, e := range l.events {
			got[k] = e.id
		}
		if !slices.Equal(got, expect) {
			t.Errorf("%s received %d events, want %d (the feed above %d) exactly once in order\n got: %v\nwant: %v",
				l.name, len(got), len(expect), l.from, got, expect)
		}
		if l.instance < 0 && l.hops < 3 {
			t.Errorf("%s connected %d times, want several hops across instances", l.name, l.hops)
		}
	}

	// Delivery latency: POST answered by instance i -> event on a stream
	// held by the other instance (and, for comparison, the same one).
	postBy := map[int64]posted{}
	for _, p := range posts {
		postBy[p.id] = p
	}
	var cross, same []time.Duration
	for _, l := range logs {
		if l.instance < 0 {
			continue
		}
		for _, e := range l.events {
			p, ok := postBy[e.id]
			if !ok {
				continue
			}
			if p.instance != l.instance {
				cross = append(cross, e.at.Sub(p.at))
			} else {
				same = append(same, e.at.Sub(p.at))
			}
		}
	}
	hops := 0
	for _, l := range logs {
		hops += l.hops
	}
	t.Logf("%d activities posted by %d writers through 2 instances; %d streams (%d connections of hopping streams) each got all of them once, in order",
		len(posts), writers, len(logs), hops)
	t.Logf("cross-instance delivery (POST answered by one instance -> event on a stream of the other): %s", percentiles(cross))
	t.Logf("same-instance delivery: %s", percentiles(same))
}

// percentiles summarizes latencies: count, p50, p90, p99, max.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	slices.Sort(d)
	p := func(q float64) time.Duration {
		return d[min(len(d)-1, int(q*float64(len(d))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s", len(d), p(0.50), p(0.90), p(0.99), d[len(d)-1].Round(10*time.Microsecond))
}
