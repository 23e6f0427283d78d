// Command roster-bench measures Roster end to end: it seeds (or reuses) a
// database, starts `roster serve` on it in a child process, and drives each
// scenario with a closed-loop, keep-alive load generator. In the same run it
// drives a bare net/http handler serving a fixed ~300-byte JSON body (the
// baseline B0), so every figure is also a ratio to what this machine can
// serve at all. It prints a table and writes the same as Markdown.
//
//	go run ./cmd/roster-bench -users 1000000 -activities 5000000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/sqlstore"
)

type config struct {
	db          string
	users, acts int
	concurrency int
	latencyConc int
	duration    time.Duration
	warmup      time.Duration
	scenarios   string
	subscribers int
	events      int
	out         string
	rosterBin   string
	pprofDir    string
	pprofAddr   string // set while a server started with --pprof-addr runs
	serverPid   int    // the roster serve child, for its CPU time; 0 for B0
}

func main() {
	var c config
	flag.StringVar(&c.db, "db", "roster-bench.db", "database: a SQLite file or a postgres:// URL; seeded when it has no users, else reused")
	flag.IntVar(&c.users, "users", 10000, "users to seed into an empty database")
	flag.IntVar(&c.acts, "activities", -1, "activities to seed (default 5 per user)")
	flag.IntVar(&c.concurrency, "c", 16, "concurrent closed-loop clients per HTTP scenario")
	flag.IntVar(&c.latencyConc, "latency-c", 0, "clients for the scenarios with latency targets (deep page, searches; default -c)")
	flag.DurationVar(&c.duration, "d", 10*time.Second, "measured duration of each HTTP scenario")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "warm-up before each HTTP scenario (not measured)")
	flag.StringVar(&c.scenarios, "scenarios", "all", "comma-separated scenario names to run (see -list), or all")
	flag.IntVar(&c.subscribers, "sse", 10000, "SSE subscribers in the fan-out scenario (0 skips it)")
	flag.IntVar(&c.events, "sse-events", 5, "events published to all SSE subscribers")
	flag.StringVar(&c.out, "out", "bench-results.md", "Markdown report to write")
	flag.StringVar(&c.rosterBin, "roster", "", "roster binary to run (default: build ./cmd/roster)")
	flag.StringVar(&c.pprofDir, "pprof", "", "write a CPU profile of the server for each HTTP scenario's measured window into this directory")
	list := flag.Bool("list", false, "list the scenarios and exit")
	flag.Parse()
	if *list {
		for _, s := range scenarioNames {
			fmt.Println(s)
		}
		return
	}
	if c.acts < 0 {
		c.acts = 5 * c.users
	}
	if c.latencyConc <= 0 {
		c.latencyConc = c.concurrency
	}
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "roster-bench:", err)
		os.Exit(1)
	}
}

var scenarioNames = []string{"b0", "get-user", "list-page1", "list-deep", "search-selective", "search-common",
	"activity-page", "activity-count", "post-activity", "sse-fanout"}

// result is one row of the report.
type result struct {
	name, what  string
	conc        int
	reqs, errs  int64
	rate        float64
	p50, p99    time.Duration
	ratio       float64       // rate / B0 rate
	cpuPerReq   time.Duration // server CPU time (user+system) per request, when known
	target, met string
	note        string
}

func run(ctx context.Context, c config) error {
	raiseFileLimit()
	want := map[string]bool{}
	for _, s := range strings.Split(c.scenarios, ",") {
		want[strings.TrimSpace(s)] = true
	}
	on := func(s string) bool { return want["all"] || want[s] }

	bin := c.rosterBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "roster-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "roster")
		fmt.Fprintln(os.Stderr, "building ./cmd/roster ...")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/roster")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build roster: %w", err)
		}
	}

	// Seed or reuse.
	db, err := openDB(ctx, c.db)
	if err != nil {
		return err
	}
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	var seedNote string
	if n == 0 {
		db.Close()
		fmt.Fprintf(os.Stderr, "seeding %d users, %d activities into %s\n", c.users, c.acts, c.db)
		cmd := exec.Command(bin, "seed", "--db", c.db, "--users", strconv.Itoa(c.users), "--activities", strconv.Itoa(c.acts))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stderr, &out), os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		seedNote = strings.TrimSpace(out.String())
		if db, err = openDB(ctx, c.db); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(os.Stderr, "reusing %s (%d users)\n", c.db, n)
	}
	fx, err := prepare(ctx, db)
	db.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "database: %d users (ids %d-%d), %d activities\n", fx.users, fx.minID, fx.maxID, fx.activities)

	// B0: a bare handler with a fixed ~300-byte JSON body.
	b0body := []byte(`{"id":123456,"username":"jdoe","email":"jdoe@example.com","firstName":"Jane","lastName":"Doe","isActive":true,` +
		`"isAdmin":false,"bio":"","avatarUrl":"","timezone":"UTC","locale":"en","dateJoined":"2026-11-27T11:06:14.013856Z",` +
		`"lastLogin":null,"lastActiveAt":"2026-11-27T11:06:14.013856Z","groups":[{"id":3,"name":"design"}]}` + "\n")
	b0ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b0srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(b0body)
	})}
	go b0srv.Serve(b0ln)
	defer b0srv.Close()

	var results []result
	var b0rate float64
	{ // every ratio needs B0, so it always runs
		r := c.load("b0", "bare net/http, fixed 300-byte JSON", "http://"+b0ln.Addr().String(), nil, func(rng *mrand.Rand) req {
			return req{method: "GET", path: "/"}
		})
		b0rate = r.rate
		results = append(results, r)
	}

	httpScenarios := []string{"get-user", "list-page1", "list-deep", "search-selective", "search-common", "activity-page", "activity-count", "post-activity"}
	anyHTTP := false
	for _, s := range httpScenarios {
		anyHTTP = anyHTTP || on(s)
	}
	if anyHTTP {
		srv, err := startServer(bin, c.db, 20, c.pprofDir != "")
		if err != nil {
			return err
		}
		c.pprofAddr = srv.pprofAddr
		c.serverPid = srv.cmd.Process.Pid
		auth := map[string]string{"Authorization": "Bearer " + fx.viewerToken}
		pages := (fx.users + 49) / 50
		sc := map[string]struct {
			what, target string
			gen          func(*mrand.Rand) req
			check        func(r result) string
		}{
			"get-user": {"GET /users/{random id}", "≥ 0.40×B0", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/" + strconv.FormatInt(fx.randomID(rng), 10)}
			}, func(r result) string { return metIf(r.ratio >= 0.40) }},
			"list-page1": {"GET /users (page 1 of 50, with count)", "≥ 0.25×B0", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users"}
			}, func(r result) string { return metIf(r.ratio >= 0.25) }},
			"list-deep": {"GET /users?page=P, P in the last 10% of pages", "p99 ≤ 100 ms", func(rng *mrand.Rand) req {
				p := pages - rng.IntN(max(pages/10, 1))
				return req{method: "GET", path: "/api/v3/users?page=" + strconv.Itoa(max(p, 1))}
			}, func(r result) string { return metIf(r.p99 <= 100*time.Millisecond) }},
			"search-selective": {"GET /users/search?q=<4-6 chars of a real username>", "p99 ≤ 50 ms", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(fx.selective[rng.IntN(len(fx.selective))])}
			}, func(r result) string { return metIf(r.p99 <= 50*time.Millisecond) }},
			"search-common": {"GET /users/search?q=<common 2-3 chars>", "p99 ≤ 250 ms", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(commonTerms[rng.IntN(len(commonTerms))])}
			}, func(r result) string { return metIf(r.p99 <= 250*time.Millisecond) }},
			"activity-page": {"GET /users/{id}/activities (non-admin viewer)", "≥ 0.30×B0", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/" + strconv.FormatInt(fx.randomActor(rng), 10) + "/activities"}
			}, func(r result) string { return metIf(r.ratio >= 0.30) }},
			"activity-count": {"GET /users/{id}/activities/count (non-admin viewer)", "", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/" + strconv.FormatInt(fx.randomActor(rng), 10) + "/activities/count"}
			}, nil},
			"post-activity": {"POST /activities", "≥ 2000 req/s", func(rng *mrand.Rand) req {
				return req{method: "POST", path: "/api/v3/activities", status: 201,
					body: []byte(`{"verb":"bench.posted","object":{"type":"document","id":"d-` + strconv.Itoa(rng.IntN(1e6)) + `","name":"Bench"},"data":{"k":1}}`)}
			}, func(r result) string { return metIf(r.rate >= 2000) }},
		}
		for _, name := range httpScenarios {
			if !on(name) {
				continue
			}
			s := sc[name]
			lc := c
			if name == "list-deep" || strings.HasPrefix(name, "search-") {
				lc.concurrency = c.latencyConc
			}
			r := lc.load(name, s.what, srv.url, auth, s.gen)
			r.ratio = r.rate / b0rate
			r.target = s.target
			if s.check != nil {
				r.met = s.check(r)
			}
			results = append(results, r)
		}
		if err := srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
		}
	}

	if on("sse-fanout") && c.subscribers > 0 {
		rs, err := sseFanout(c, bin, fx)
		if err != nil {
			return fmt.Errorf("sse-fanout: %w", err)
		}
		results = append(results, rs...)
	}
	if seedNote != "" {
		results = append(results, seedResult(seedNote))
	}
	for i := range results {
		if r := results[i]; r.name != "b0" && r.name != "seed" && r.ratio == 0 && r.rate > 0 && b0rate > 0 {
			results[i].ratio = results[i].rate / b0rate
		}
	}
	md := report(c, fx, results)
	fmt.Println(md)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", c.out)
	}
	return nil
}

func metIf(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func urlq(s string) string { return strings.ReplaceAll(urlEscape(s), " ", "+") }

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// commonTerms are 2-3 character terms that match a large share of users.
var commonTerms = []string{"an", "er", "li", "ma", "son", "ia", "ar"}

func openDB(ctx context.Context, dbURL string) (*sqlstore.DB, error) {
	var db *sqlstore.DB
	var err error
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		db, err = postgres.Open(ctx, dbURL, postgres.Options{MaxConns: 4})
	} else {
		db, err = sqlite.Open(ctx, strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//"))
	}
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// fixture is what the scenarios draw from: id ranges, real search terms
// and tokens.
type fixture struct {
	users, activities         int
	minID, maxID              int64
	actors                    []int64 // users with activities
	selective                 []string
	viewerToken, adminToken   string
	viewerID, adminID, sseAct int64
}

func (f *fixture) randomID(rng *mrand.Rand) int64 {
	return f.minID + rng.Int64N(f.maxID-f.minID+1)
}

func (f *fixture) randomActor(rng *mrand.Rand) int64 { return f.actors[rng.IntN(len(f.actors))] }

// prepare reads the fixture from the database and makes two tokens: an
// active non-admin viewer (reads, posts) and an admin "bench-admin" (SSE).
func prepare(ctx context.Context, db *sqlstore.DB) (*fixture, error) {
	f := &fixture{}
	r := db.ReadDB()
	if err := r.QueryRowContext(ctx, "SELECT count(*), min(id), max(id) FROM users").Scan(&f.users, &f.minID, &f.maxID); err != nil {
		return nil, err
	}
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM activities").Scan(&f.activities); err != nil {
		return nil, err
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for len(f.actors) < 2000 || len(f.selective) < 1000 {
		id := f.randomID(rng)
		var username string
		var acts int
		err := r.QueryRowContext(ctx, "SELECT username_fold, (SELECT count(*) FROM activities WHERE actor_id = users.id) FROM users WHERE id = "+
			strconv.FormatInt(id, 10)).Scan(&username, &acts)
		if err != nil {
			continue // a gap in the ids
		}
		if acts > 0 && len(f.actors) < 2000 {
			f.actors = append(f.actors, id)
		}
		if u := []rune(username); len(u) >= 6 && len(f.selective) < 1000 {
			n := 4 + rng.IntN(3)
			i := len(u) - n - rng.IntN(min(3, len(u)-n+1)) // near the end: the unique number
			f.selective = append(f.selective, string(u[i:i+n]))
		}
	}
	// The viewer: an active non-admin with activities.
	if err := r.QueryRowContext(ctx, "SELECT id FROM users WHERE is_active AND NOT is_admin AND last_active_at IS NOT NULL ORDER BY id LIMIT 1").Scan(&f.viewerID); err != nil {
		return nil, fmt.Errorf("no active non-admin user to act as the viewer: %w", err)
	}
	admin, _, err := db.FindCredentials(ctx, "bench-admin")
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		admin = &roster.User{Username: "bench-admin", Email: "bench-admin@roster.invalid", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
		err = db.CreateUser(ctx, 0, admin, "")
	}
	if err != nil {
		return nil, err
	}
	f.adminID = admin.ID
	if f.viewerToken, err = newToken(ctx, db, f.viewerID); err != nil {
		return nil, err
	}
	if f.adminToken, err = newToken(ctx, db, f.adminID); err != nil {
		return nil, err
	}
	f.sseAct = f.viewerID
	return f, nil
}

func newToken(ctx context.Context, db *sqlstore.DB, uid int64) (string, error) {
	secret, hash := roster.NewTokenSecret()
	err := db.CreateToken(ctx, &roster.Token{UserID: uid, Hash: hash, ExpiresAt: time.Now().Add(24 * time.Hour)})
	return secret, err
}

// server is `roster serve` in a child process.
type server struct {
	cmd       *exec.Cmd
	url       string
	pprofAddr string
	done      chan error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startServer(bin, db string, maxStreams int, profile bool) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--db", db, "--addr", addr, "--max-streams-per-user", strconv.Itoa(maxStreams)}
	var paddr string
	if profile {
		if paddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", paddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ROSTER_LOG_FORMAT=json")
	cmd.Stdout = io.Discard
	cmd.Stderr = io.Discard // one log line per request would cost more than the request
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr, pprofAddr: paddr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("roster serve exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, errors.New("roster serve did not become ready in 60s")
}

func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("killed after 20s")
	}
}

// rss returns the resident set of the server process in bytes.
func (s *server) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

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

// sseFanout starts a fresh server, measures its RSS, opens n idle streams
// on one actor, measures again, then publishes events through the API and
// records when each subscriber receives each one.
func sseFanout(c config, bin string, fx *fixture) ([]result, error) {
	n := c.subscribers
	srv, err := startServer(bin, c.db, n+10, false)
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
	rss2, _ := srv.rss()
	cancel()
	srv.stop()
	wg.Wait()
	missed := want - got
	fmt.Fprintf(os.Stderr, "sse-fanout        %d deliveries, %d missed, p50 %s, p99 %s, %.1f KiB/subscriber\n",
		got, missed, fmtDur(h.quantile(0.5)), fmtDur(h.quantile(0.99)), perSub/1024)
	return []result{
		{name: "sse-idle", what: fmt.Sprintf("%d idle streams: server RSS %.0f → %.0f MiB", connected.Load(), float64(rss0)/(1<<20), float64(rss1)/(1<<20)),
			conc: int(connected.Load()), errs: failed.Load(), target: "≤ 16 KiB/subscriber", met: metIf(perSub <= 16*1024),
			note: fmt.Sprintf("%.1f KiB per subscriber; %s to connect all; RSS %.0f MiB after the events", perSub/1024, connectTime.Round(time.Millisecond), float64(rss2)/(1<<20))},
		{name: "sse-fanout", what: fmt.Sprintf("%d events, each to %d subscribers (POST to receipt)", len(sent), connected.Load()),
			conc: int(connected.Load()), reqs: int64(got), errs: int64(missed), p50: h.quantile(0.5), p99: h.quantile(0.99),
			target: "p99 ≤ 100 ms, none missed", met: metIf(h.quantile(0.99) <= 100*time.Millisecond && missed == 0),
			note: fmt.Sprintf("%d missed, %d duplicates", missed, dups)},
	}, nil
}

func seedResult(line string) result {
	r := result{name: "seed", what: line, target: "≥ 50,000 rows/s"}
	if i := strings.LastIndex(line, ", "); i >= 0 {
		f := strings.Fields(line[i+2:])
		if len(f) > 0 {
			r.rate, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	r.met = metIf(r.rate >= 50000)
	return r
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

func report(c config, fx *fixture, rs []result) string {
	var b strings.Builder
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "Run %s on %s: %d CPUs, %s, %s/%s; load average before the report: %s\n\n", time.Now().UTC().Format(time.RFC3339), host,
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(&b, "Database %s: %d users, %d activities. HTTP scenarios: %d closed-loop keep-alive clients, %s warm-up, %s measured each; "+
		"latencies from a log-linear histogram (within ~5%%).\n\n", redact(c.db), fx.users, fx.activities, c.concurrency, c.warmup, c.duration)
	b.WriteString("SSE rows: clients is the number of subscribers; errors are failed connections (sse-idle) and missed deliveries (sse-fanout).\n\n")
	b.WriteString("Server CPU/req is the server process's user+system CPU time over the measured window divided by the requests: unlike req/s it barely moves with the load generator's share of the 2 cores.\n\n")
	b.WriteString("| scenario | what | clients | req/s | p50 | p99 | errors | × B0 | server CPU/req | target | |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rs {
		rate, ratio := "", ""
		if r.rate > 0 {
			rate = fmt.Sprintf("%.0f", r.rate)
		}
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.ratio)
		}
		if r.name == "b0" {
			ratio = "1.00"
		}
		what := r.what
		if r.note != "" {
			what += " (" + r.note + ")"
		}
		conc := ""
		if r.conc > 0 {
			conc = strconv.Itoa(r.conc)
		}
		cpu := ""
		if r.cpuPerReq > 0 {
			cpu = fmtDur(r.cpuPerReq)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", r.name, strings.ReplaceAll(what, "|", "\\|"), conc, rate,
			fmtDur(r.p50), fmtDur(r.p99), r.errs, ratio, cpu, r.target, r.met)
	}
	return b.String()
}

func redact(s string) string {
	if i := strings.Index(s, "@"); i > 0 && strings.Contains(s, "://") {
		return s[:strings.Index(s, "://")+3] + "…" + s[i:]
	}
	return s
}

// raiseFileLimit lifts the soft limit on open files to the hard one: the
// SSE scenario holds one socket per subscriber here and in the server.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
