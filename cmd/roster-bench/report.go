package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

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
	fmt.Fprintf(&b, "Run %s on %s (roster at commit %s): %d CPUs, %s, %s/%s; load average before the report: %s\n\n", c.started.Format(time.RFC3339), host,
		c.commit, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(strings.Fields(string(load))[:3], " "))
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
