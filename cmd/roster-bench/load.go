package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type req struct {
	method, path string
	body         []byte
	status       int // expected, default 200
}

// hist is a log-linear latency histogram: 16 buckets per power of two of
// microseconds (quantiles within about 4.5%).
type hist struct {
	counts [512]int64
	n      int64
}

func bucketOf(d time.Duration) int {
	us := float64(d) / 1e3
	if us <= 1 {
		return 0
	}
	return min(int(math.Log2(us)*16)+1, 511)
}

func (h *hist) add(d time.Duration) { h.counts[bucketOf(d)]++; h.n++ }

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(math.Exp2(float64(i)/16) * 1e3) // the bucket's upper bound
		}
	}
	return 0
}

// load runs a closed loop of c.concurrency clients against base for the
// warm-up and then the measured duration.
func (c config) load(name, what, base string, headers map[string]string, gen func(*mrand.Rand) req) result {
	tr := &http.Transport{MaxIdleConns: c.concurrency * 2, MaxIdleConnsPerHost: c.concurrency * 2, MaxConnsPerHost: c.concurrency,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var measuring atomic.Bool
	var stop atomic.Bool
	hists := make([]hist, c.concurrency)
	reqs := make([]int64, c.concurrency)
	errs := make([]int64, c.concurrency)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range c.concurrency {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			buf := make([]byte, 32<<10)
			for !stop.Load() {
				q := gen(rng)
				var body io.Reader
				if q.body != nil {
					body = bytes.NewReader(q.body)
				}
				r, _ := http.NewRequest(q.method, base+q.path, body)
				for k, v := range headers {
					r.Header.Set(k, v)
				}
				if q.body != nil {
					r.Header.Set("Content-Type", "application/json")
				}
				t0 := time.Now()
				resp, err := client.Do(r)
				ok := err == nil
				if err == nil {
					for {
						if _, e := resp.Body.Read(buf); e != nil {
							break
						}
					}
					resp.Body.Close()
					want := q.status
					if want == 0 {
						want = 200
					}
					if resp.StatusCode != want {
						ok = false
						err = fmt.Errorf("%s %s: status %d", q.method, q.path, resp.StatusCode)
					}
				}
				d := time.Since(t0)
				if measuring.Load() {
					reqs[i]++
					hists[i].add(d)
					if !ok {
						errs[i]++
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}
		})
	}
	fmt.Fprintf(os.Stderr, "%-17s warm-up %s, then %s with %d clients ... ", name, c.warmup, c.duration, c.concurrency)
	time.Sleep(c.warmup)
	measuring.Store(true)
	t0 := time.Now()
	cpu0 := processCPU(c.serverPid)
	profiled := c.profile(name)
	time.Sleep(c.duration)
	measuring.Store(false)
	cpu1 := processCPU(c.serverPid)
	if err := <-profiled; err != nil {
		fmt.Fprintf(os.Stderr, "(profile: %v) ", err)
	}
	el := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	var h hist
	r := result{name: name, what: what, conc: c.concurrency}
	for i := range hists {
		h.merge(&hists[i])
		r.reqs += reqs[i]
		r.errs += errs[i]
	}
	r.rate = float64(r.reqs) / el.Seconds()
	r.p50, r.p99 = h.quantile(0.50), h.quantile(0.99)
	if c.serverPid != 0 && r.reqs > 0 && cpu1 > cpu0 {
		r.cpuPerReq = (cpu1 - cpu0) / time.Duration(r.reqs)
	}
	if r.errs > 0 {
		r.note = fmt.Sprint("first error: ", firstErr.Load())
	}
	fmt.Fprintf(os.Stderr, "%.0f req/s, p50 %s, p99 %s, %d errors, server CPU %s/req\n", r.rate, fmtDur(r.p50), fmtDur(r.p99), r.errs, fmtDur(r.cpuPerReq))
	return r
}

// processCPU returns the user+system CPU time of process pid so far (0 if
// unknown). Per request, it compares runs on a machine whose load varies:
// req/s moves with the load generator's share of the CPUs, CPU time per
// request much less.
func processCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of the line, in clock ticks (100 per s).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// profile records a CPU profile of the server over the measured window
// into c.pprofDir/<name>.cpu.pprof, when profiling is on.
func (c config) profile(name string) <-chan error {
	done := make(chan error, 1)
	if c.pprofAddr == "" {
		done <- nil
		return done
	}
	go func() {
		secs := max(int(c.duration/time.Second), 1)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprofAddr, secs))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("status %d", resp.StatusCode)
			return
		}
		if err := os.MkdirAll(c.pprofDir, 0o755); err != nil {
			done <- err
			return
		}
		f, err := os.Create(filepath.Join(c.pprofDir, name+".cpu.pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}
