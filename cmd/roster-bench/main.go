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
	"bytes"
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type config struct {
	db            string
	users, acts   int
	concurrency   int
	latencyConc   int
	duration      time.Duration
	warmup        time.Duration
	scenarios     string
	subscribers   int
	events        int
	out           string
	rosterBin     string
	pprofDir      string
	webhookRounds int
	pprofAddr     string // set while a server started with --pprof-addr runs
	serverPid     int    // the roster serve child, for its CPU time; 0 for B0
	started       time.Time
	commit        string // of the roster binary measured (binCommit)
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
	flag.StringVar(&c.pprofDir, "pprof", "", "write a CPU profile of the server for each HTTP scenario's measured window, and for the SSE fan-out's events, into this directory")
	flag.IntVar(&c.webhookRounds, "webhook-rounds", 2, "rounds of 0 then 10 enabled webhooks in the webhooks scenario")
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

var scenarioNames = []string{"b0", "get-user", "list-page1", "list-deep", "search-selective", "search-rare", "search-common",
	"search-wide", "search-prefixes", "activity-page", "activity-count", "post-activity", "sse-fanout", "webhooks (only when named)"}

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

	c.started, c.commit = time.Now().UTC(), binCommit(bin)
	fmt.Fprintf(os.Stderr, "run %s, roster at commit %s\n", c.started.Format(time.RFC3339), c.commit)

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
	if err == nil && (on("search-selective") || on("search-rare")) {
		fmt.Fprintln(os.Stderr, "counting the matches of the rare search terms ...")
		err = selectiveTerms(ctx, db, fx, 1000)
	}
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

	httpScenarios := []string{"get-user", "list-page1", "list-deep", "search-selective", "search-rare", "search-common", "search-wide", "search-prefixes", "activity-page", "activity-count", "post-activity"}
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
			"search-selective": {"GET /users/search?q=<4-6 chars at a random position of a username, email or last name, matching 1-300 users: " + fx.selectiveNote + ">", "p99 ≤ 50 ms", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(fx.selective[rng.IntN(len(fx.selective))])}
			}, func(r result) string { return metIf(r.p99 <= 50*time.Millisecond) }},
			"search-rare": {"GET /users/search?q=<4-6 chars at a random position of a username, email or last name, in ≤ 1 of 4000 sampled users (search-selective of passes 1-8): " + fx.rareNote + ">", "", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(fx.rare[rng.IntN(len(fx.rare))])}
			}, nil},
			"search-common": {"GET /users/search?q=<common 2-3 chars>", "p99 ≤ 250 ms", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(commonTerms[rng.IntN(len(commonTerms))])}
			}, func(r result) string { return metIf(r.p99 <= 250*time.Millisecond) }},
			"search-wide": {"GET /users/search?q=<4-8 chars of a username, email or last name, in 10-40% of sampled users>", "p99 ≤ 250 ms", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(fx.wide[rng.IntN(len(fx.wide))])}
			}, func(r result) string { return metIf(r.p99 <= 250*time.Millisecond) }},
			"search-prefixes": {"GET /users/search?q=<every prefix of the commonest email domain word: " + strings.Join(fx.prefixes, ", ") + ">", "p99 ≤ 250 ms", func(rng *mrand.Rand) req {
				return req{method: "GET", path: "/api/v3/users/search?q=" + urlq(fx.prefixes[rng.IntN(len(fx.prefixes))])}
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

	if want["webhooks"] { // not in "all": it adds webhooks to the database for its run
		rs, err := webhookScenarios(c, bin, fx, c.webhookRounds)
		if err != nil {
			return fmt.Errorf("webhooks: %w", err)
		}
		results = append(results, rs...)
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

// binCommit returns the commit the roster binary was built from (its VCS
// build info), with "+modified" when the tree had uncommitted changes. A
// binary built without VCS stamping (GOFLAGS=-buildvcs=false) gets the
// working directory's HEAD, said so.
func binCommit(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	rev, modified := "", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			modified = "+modified"
		}
	}
	if rev == "" {
		head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
		if err != nil {
			return "unknown (the binary has no VCS stamp)"
		}
		return strings.TrimSpace(string(head)) + " (HEAD of the working directory; the binary has no VCS stamp)"
	}
	return rev + modified
}
