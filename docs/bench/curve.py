#!/usr/bin/env python3
"""Draw the users curve of BENCHMARKS.md from roster-bench reports.

Usage: python3 docs/bench/curve.py OUTDIR STORE,USERS,CLIENTS=REPORT.md ...

Each REPORT.md is the -out file of one roster-bench run. The script prints
a Markdown table (one row per scenario, one column per run) and writes, for
each client count and store, curve-<store>-rates-c<N>.svg (req/s by users)
and curve-<store>-search-p99-c<N>.svg (search p99 by users), on log axes.
Only the standard library is used.
"""
import math
import re
import sys

RATES = ["get-user", "list-page1", "activity-page", "post-activity"]
SEARCHES = ["search-selective", "search-common", "search-wide", "search-prefixes"]
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def parse_ms(s):
    s = s.strip()
    if not s:
        return None
    v, unit = s.split()
    v = float(v)
    return {"µs": v / 1000, "ms": v, "s": v * 1000}[unit]


def read_report(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        if not line.startswith("| ") or line.startswith("| scenario"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) < 11:
            continue
        name, rate, p99, errs, ratio = cells[0], cells[3], cells[5], cells[6], cells[7]
        rows[name] = {
            "rate": float(rate) if rate else None,
            "p99": parse_ms(p99),
            "errors": int(errs or 0),
            "ratio": float(ratio) if ratio else None,
        }
    return rows


def fmt_users(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def svg_plot(path, title, ylabel, series, xs):
    """series: {label: {users: value}}; xs: sorted users."""
    w, h, left, right, top, bottom = 760, 420, 80, 540, 40, 370
    vals = [v for s in series.values() for v in s.values() if v]
    if not vals:
        return
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    if hi == lo:
        hi = lo * 10
    xlo, xhi = math.log10(xs[0]), math.log10(xs[-1])

    def X(u):
        return left + (right - left) * ((math.log10(u) - xlo) / (xhi - xlo) if xhi > xlo else 0.5)

    def Y(v):
        return bottom - (bottom - top) * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    d = lo
    while d <= hi * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if lo <= v <= hi:
                out.append(f'<line x1="{left}" y1="{Y(v):.1f}" x2="{right}" y2="{Y(v):.1f}" stroke="#ddd"/>')
                out.append(f'<text x="{left - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        d *= 10
    for u in xs:
        out.append(f'<line x1="{X(u):.1f}" y1="{top}" x2="{X(u):.1f}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{X(u):.1f}" y="{bottom + 18}" text-anchor="middle">{fmt_users(u)} users</text>')
    out.append(f'<text x="18" y="{(top + bottom) / 2}" transform="rotate(-90 18 {(top + bottom) / 2})" '
               f'text-anchor="middle">{ylabel}</text>')
    for i, (label, pts) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        p = [(X(u), Y(v)) for u, v in sorted(pts.items()) if v]
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in p) + '"/>')
        for x, y in p:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
        ly = top + 10 + 20 * i
        out.append(f'<line x1="{right + 15}" y1="{ly}" x2="{right + 35}" y2="{ly}" stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{right + 40}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main():
    outdir, specs = sys.argv[1], sys.argv[2:]
    runs = []
    for spec in specs:
        key, path = spec.split("=", 1)
        store, users, clients = key.split(",")
        runs.append((store, int(users), int(clients), read_report(path)))
    runs.sort(key=lambda r: (r[0], r[2], r[1]))
    head = [f"{s} {fmt_users(u)}, c{c}" for s, u, c, _ in runs]
    print("| scenario | " + " | ".join(head) + " |")
    print("| --- |" + " --- |" * len(head))
    for name in ["b0"] + RATES + SEARCHES:
        cells = []
        for _, _, _, rows in runs:
            r = rows.get(name)
            if not r:
                cells.append("")
            elif name in SEARCHES:
                e = f" ({r['errors']} err)" if r["errors"] else ""
                cells.append(f"{r['p99']:.0f} ms{e}" if r["p99"] is not None else "")
            elif name == "b0" or r["ratio"] is None:
                cells.append(f"{r['rate']:,.0f}")
            else:
                cells.append(f"{r['rate']:,.0f}, {r['ratio']:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for store in sorted({r[0] for r in runs}):
        for clients in sorted({r[2] for r in runs if r[0] == store}):
            sel = [r for r in runs if r[0] == store and r[2] == clients]
            xs = sorted({r[1] for r in sel})
            rates = {n: {u: rows.get(n, {}).get("rate") for _, u, _, rows in sel} for n in RATES}
            p99 = {n: {u: rows.get(n, {}).get("p99") for _, u, _, rows in sel} for n in SEARCHES}
            svg_plot(f"{outdir}/curve-{store}-rates-c{clients}.svg", f"{store}, {clients} clients: req/s by users",
                     "req/s", rates, xs)
            svg_plot(f"{outdir}/curve-{store}-search-p99-c{clients}.svg",
                     f"{store}, {clients} clients: search p99 (ms) by users", "p99 ms", p99, xs)


if __name__ == "__main__":
    main()
