package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sseFanout starts a fresh server, measures its RSS, opens n idle streams
// on one actor, measures again, then publishes events through the API and
// records when each subscriber receives each one. It reports the CPU time
// the server and this process (the subscribers' reads) spent per event,
// and with -pprof writes a CPU profile of the server over the events
// (sse-fanout.cpu.pprof).
func sseFanout(c config, bin string, fx *fixture) ([]result, error) {
	n := c.subscribers
	srv, err := startServer(bin, c.db, n+10, c.pprofDir != "")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	time.Sleep(time.Second)
	rss0, err := srv.rss()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: n + 10, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type arrival struct {
		sub int
		id  int64
		at  time.Time
	}
	arrivals := make(chan arrival, n*c.events+n)
	var connected, failed atomic.Int64
	var wg sync.WaitGroup
	path := fmt.Sprintf("%s/api/v3/users/%d/stream", srv.url, fx.sseAct)
	fmt.Fprintf(os.Stderr, "sse-fanout        opening %d streams ... ", n)
	t0 := time.Now()
	sem := make(chan struct{}, 64) // connect 64 at a time
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			r, _ := http.NewRequestWithContext(ctx, "GET", path, nil)
			r.Header.Set("Authorization", "Bearer "+fx.adminToken)
			resp, err := client.Do(r)
			if err != nil || resp.StatusCode != 200 {
				<-sem
				failed.Add(1)
				if resp != nil {
					resp.Body.Close()
				}
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReaderSize(resp.Body, 1024)
			// The retry: line arrives first; then the stream is live.
			if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
				<-sem
				failed.Add(1)
				return
			}
			connected.Add(1)
			<-sem
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if v, ok := strings.CutPrefix(line, "id: "); ok {
					id, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					arrivals <- arrival{i, id, time.Now()}
				}
			}
		})
	}
	for connected.Load()+failed.Load() < int64(n) && time.Since(t0) < 120*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	connectTime := time.Since(t0)
	fmt.Fprintf(os.Stderr, "%d open, %d failed in %s\n", connected.Load(), failed.Load(), connectTime.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	runtime.GC()
	rss1, err := srv.rss()
	if err != nil {
		return nil, err
	}
	perSub := float64(rss1-rss0) / float64(max(connected.Load(), 1))

	// Publish events as the actor, one every 500 ms.
	c.pprofAddr = srv.pprofAddr
	c.duration = time.Duration(c.events)*500*time.Millisecond + time.Second
	profiled := c.profile("sse-fanout")
	srvCPU0, selfCPU0 := processCPU(srv.cmd.Process.Pid), processCPU(os.Getpid())
	post := &http.Client{Transport: &http.Transport{}}
	sent := map[int64]time.Time{}
	for e := range c.events {
		body := `{"verb":"bench.fanout","data":{"n":` + strconv.Itoa(e) + `}}`
		r, _ := http.NewRequest("POST", srv.url+"/api/v3/activities", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+fx.viewerToken)
		r.Header.Set("Content-Type", "application/json")
		at := time.Now()
		resp, err := post.Do(r)
		if err != nil {
			return nil, err
		}
		var a struct {
			ID int64 `json:"id"`
		}
		json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return nil, fmt.Errorf("post event: status %d", resp.StatusCode)
		}
		sent[a.ID] = at
		time.Sleep(500 * time.Millisecond)
	}
	// Collect until every subscriber has every event, or 10 s of silence.
	var h hist
	got := 0
	want := int(connected.Load()) * len(sent)
	seen := map[[2]int64]bool{}
	dups := 0
	timeout := time.NewTimer(10 * time.Second)
collect:
	for got < want {
		select {
		case a := <-arrivals:
			at, ok := sent[a.id]
			if !ok {
				continue
			}
			k := [2]int64{int64(a.sub), a.id}
			if seen[k] {
				dups++
				continue
			}
			seen[k] = true
			got++
			h.add(a.at.Sub(at))
			timeout.Reset(10 * time.Second)
		case <-timeout.C:
			break collect
		}
	}
	srvCPU, selfCPU := processCPU(srv.cmd.Process.Pid)-srvCPU0, processCPU(os.Getpid())-selfCPU0
	if err := <-profiled; err != nil {
		fmt.Fprintf(os.Stderr, "sse-fanout        profile: %v\n", err)
	}
	rss2, _ := srv.rss()
	cancel()
	srv.stop()
	wg.Wait()
	missed := want - got
	events := time.Duration(max(len(sent), 1))
	fmt.Fprintf(os.Stderr, "sse-fanout        %d deliveries, %d missed, p50 %s, p99 %s, %.1f KiB/subscriber, CPU per event: server %s, subscribers %s\n",
		got, missed, fmtDur(h.quantile(0.5)), fmtDur(h.quantile(0.99)), perSub/1024, fmtDur(srvCPU/events), fmtDur(selfCPU/events))
	return []result{
		{name: "sse-idle", what: fmt.Sprintf("%d idle streams: server RSS %.0f → %.0f MiB", connected.Load(), float64(rss0)/(1<<20), float64(rss1)/(1<<20)),
			conc: int(connected.Load()), errs: failed.Load(), target: "≤ 16 KiB/subscriber", met: metIf(perSub <= 16*1024),
			note: fmt.Sprintf("%.1f KiB per subscriber; %s to connect all; RSS %.0f MiB after the events", perSub/1024, connectTime.Round(time.Millisecond), float64(rss2)/(1<<20))},
		{name: "sse-fanout", what: fmt.Sprintf("%d events, each to %d subscribers (POST to receipt)", len(sent), connected.Load()),
			conc: int(connected.Load()), reqs: int64(got), errs: int64(missed), p50: h.quantile(0.5), p99: h.quantile(0.99),
			target: "p99 ≤ 100 ms, none missed", met: metIf(h.quantile(0.99) <= 100*time.Millisecond && missed == 0),
			note: fmt.Sprintf("%d missed, %d duplicates; CPU per event: server %s, subscribers (this process) %s", missed, dups, fmtDur(srvCPU/events), fmtDur(selfCPU/events))},
	}, nil
}
