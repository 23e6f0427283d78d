package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// webhookCount is how many webhooks the webhooks scenario enables.
const webhookCount = 10

// receiver is a fast loopback webhook receiver: it answers 204 at once
// and records each delivery's lag, from the activity's published time (set
// in the transaction that commits it) to the delivery's arrival.
type receiver struct {
	srv        *http.Server
	url        string
	deliveries atomic.Int64 // distinct webhook-ids
	duplicates atomic.Int64 // a webhook-id seen again (at-least-once)
	mu         sync.Mutex
	lag        hist
	seen       map[string]bool
}

func newBenchReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{url: "http://" + ln.Addr().String() + "/hook", seen: map[string]bool{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Type, Timestamp string
		}
		w.WriteHeader(http.StatusNoContent)
		if json.Unmarshal(body, &p) != nil || p.Type == "webhook.test" {
			return
		}
		published, err := time.Parse(time.RFC3339Nano, p.Timestamp)
		if err != nil {
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if id := r.Header.Get("webhook-id"); rc.seen[id] {
			rc.duplicates.Add(1)
			return
		} else {
			rc.seen[id] = true
		}
		rc.lag.add(max(at.Sub(published), time.Microsecond))
		rc.deliveries.Add(1)
	})}
	go rc.srv.Serve(ln)
	return rc, nil
}

// reset forgets the lags recorded so far.
func (rc *receiver) reset() {
	rc.mu.Lock()
	rc.lag = hist{}
	rc.mu.Unlock()
}

func (rc *receiver) lags() (p50, p99 time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.lag.quantile(0.50), rc.lag.quantile(0.99)
}

// waitFor waits until the receiver has n deliveries and returns when the
// last arrived; it gives up after limit.
func (rc *receiver) waitFor(n int64, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		if got := rc.deliveries.Load(); got >= n {
			return time.Now(), nil
		} else if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d deliveries after %s", got, n, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// webhookScenarios measures webhook delivery against one server:
//
//   - post-activity-0wh and post-activity-10wh: POST /activities with no
//     enabled webhook and with 10 enabled (each receiving every activity),
//     alternated over rounds so that both see the same machine; the 10wh
//     row's ratio column is its rate over the 0wh rate of the same round.
//   - webhook-deliveries: deliveries per second to the fast receiver while
//     the 10wh load runs and until its backlog is delivered; p50/p99 are the
//     commit-to-delivery lags under that load.
//   - webhook-lag: commit-to-delivery lag at a steady 50 activities/s (500
//     deliveries/s), well under capacity: the lag a receiver sees normally.
//     Its errors column is the duplicate deliveries of the whole run (the
//     receiver counts each webhook-id once).
func webhookScenarios(c config, bin string, fx *fixture, rounds int) ([]result, error) {
	rc, err := newBenchReceiver()
	if err != nil {
		return nil, err
	}
	defer rc.srv.Close()
	srv, err := startServer(bin, c.db, 20, c.pprofDir != "", "--webhook-allow-private")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	c.serverPid, c.pprofAddr = srv.cmd.Process.Pid, srv.pprofAddr
	admin := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path string, body any, want int) (map[string]any, error) {
		b, _ := json.Marshal(body)
		r, _ := http.NewRequest(method, srv.url+path, bytes.NewReader(b))
		r.Header.Set("Authorization", "Bearer "+fx.adminToken)
		r.Header.Set("Content-Type", "application/json")
		resp, err := admin.Do(r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		return m, nil
	}
	var hooks []string
	for range webhookCount {
		m, err := call("POST", "/api/v3/webhooks", map[string]any{"url": rc.url, "verbs": []string{"bench.*"}}, http.StatusCreated)
		if err != nil {
			return nil, err
		}
		hooks = append(hooks, "/api/v3/webhooks/"+strconv.FormatFloat(m["id"].(float64), 'f', -1, 64))
	}
	defer func() {
		for _, h := range hooks {
			_, _ = call("DELETE", h, nil, http.StatusNoContent)
		}
	}()
	enable := func(on bool) error {
		for _, h := range hooks {
			if _, err := call("PATCH", h, map[string]any{"enabled": on}, http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	}

	auth := map[string]string{"Authorization": "Bearer " + fx.viewerToken}
	var posted atomic.Int64
	post := func(rng *mrand.Rand) req {
		posted.Add(1)
		return req{method: "POST", path: "/api/v3/activities", status: 201,
			body: []byte(`{"verb":"bench.posted","object":{"type":"document","id":"d-` + strconv.Itoa(rng.IntN(1e6)) + `","name":"Bench"},"data":{"k":1}}`)}
	}
	var out []result
	var delivered, deliveryTime float64
	var worstP50, worstP99 time.Duration
	for round := 1; round <= rounds; round++ {
		if err := enable(false); err != nil {
			return nil, err
		}
		r0 := c.load("post-activity-0wh", fmt.Sprintf("POST /activities, no enabled webhook (round %d)", round), srv.url, auth, post)
		r0.target = "baseline"
		out = append(out, r0)

		if err := enable(true); err != nil {
			return nil, err
		}
		rc.reset()
		before := rc.deliveries.Load()
		posted.Store(0)
		t0 := time.Now()
		r10 := c.load("post-activity-10wh", fmt.Sprintf("POST /activities, %d webhooks each receiving every activity (round %d)", webhookCount, round), srv.url, auth, post)
		want := before + posted.Load()*webhookCount
		profiled := c.profile(fmt.Sprintf("webhook-drain-%d", round)) // the deliverer alone, draining the backlog
		last, err := rc.waitFor(want, 10*time.Minute)
		if err != nil {
			return nil, err
		}
		if err := <-profiled; err != nil {
			fmt.Fprintf(os.Stderr, "(profile: %v) ", err)
		}
		if r0.rate > 0 {
			drop := 1 - r10.rate/r0.rate
			r10.target, r10.met = "drop < 10%", metIf(drop < 0.10)
			r10.note = fmt.Sprintf("%.1f%% below the 0wh round", 100*drop)
		}
		out = append(out, r10)
		n := float64(want - before)
		delivered += n
		deliveryTime += last.Sub(t0).Seconds()
		p50, p99 := rc.lags()
		worstP50, worstP99 = max(worstP50, p50), max(worstP99, p99)
		fmt.Fprintf(os.Stderr, "%-17s %.0f deliveries in %.1f s (backlog drained %.1f s after the load), lag p50 %s p99 %s\n", "  deliveries",
			n, last.Sub(t0).Seconds(), last.Sub(t0).Seconds()-c.warmup.Seconds()-c.duration.Seconds(), fmtDur(p50), fmtDur(p99))
	}
	out = append(out, result{name: "webhook-deliveries", conc: c.concurrency, rate: delivered / deliveryTime, p50: worstP50, p99: worstP99,
		what: "deliveries/s to a fast loopback receiver during the 10wh rounds until their backlog was delivered; p50/p99: commit-to-delivery lag under that load (worst round)"})

	// Lag well under capacity: an open loop of 50 activities/s for 10 s.
	rc.reset()
	before := rc.deliveries.Load()
	const rate, secs = 50, 10
	client := &http.Client{Timeout: 30 * time.Second}
	rng := mrand.New(mrand.NewPCG(7, uint64(time.Now().UnixNano())))
	var failed atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	for range rate * secs {
		<-tick.C
		q := post(rng)
		wg.Go(func() {
			r, _ := http.NewRequest(q.method, srv.url+q.path, bytes.NewReader(q.body))
			r.Header.Set("Authorization", auth["Authorization"])
			r.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(r)
			if err != nil {
				failed.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				failed.Add(1)
			}
		})
	}
	tick.Stop()
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return nil, errors.New(strconv.FormatInt(n, 10) + " posts failed in the lag run")
	}
	if _, err := rc.waitFor(before+rate*secs*webhookCount, 2*time.Minute); err != nil {
		return nil, err
	}
	p50, p99 := rc.lags()
	fmt.Fprintf(os.Stderr, "%-17s %d activities/s to %d webhooks: lag p50 %s, p99 %s\n", "webhook-lag", rate, webhookCount, fmtDur(p50), fmtDur(p99))
	if n := rc.duplicates.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "%d duplicate deliveries (a webhook-id received again) in the whole run\n", n)
	}
	out = append(out, result{name: "webhook-lag", rate: rate * webhookCount, p50: p50, p99: p99, errs: rc.duplicates.Load(),
		what: fmt.Sprintf("commit-to-delivery lag, open loop of %d activities/s to %d webhooks (req/s column: deliveries/s offered)", rate, webhookCount)})
	return out, nil
}
