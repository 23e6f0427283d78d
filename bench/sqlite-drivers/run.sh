#!/usr/bin/env bash
# Rerun everything: ./run.sh   (sequential; ~5-10 min on 2 cores after the first cgo build)
set -euo pipefail
cd "$(dirname "$0")"
export TMPDIR=$PWD/tmp   # benchmark databases live (temporarily) under here
mkdir -p bin results tmp
rm -f results/*.json results/sizes.tsv

echo "== build benchmark binaries"
CGO_ENABLED=0 go build -o bin/ ./cmd/bench-modernc ./cmd/bench-ncruces ./cmd/bench-zombiezen
CGO_ENABLED=1 go build -tags sqlite_fts5 -o bin/ ./cmd/bench-mattn

echo "== trivial binaries (size, cgo, fts5 availability)"
tiny() { # name cgo tags dir
  local name=$1 cgo=$2 tags=$3 dir=$4
  CGO_ENABLED=$cgo go build ${tags:+-tags $tags} -o bin/tiny-$name ./tiny/$dir
  CGO_ENABLED=$cgo go build ${tags:+-tags $tags} -ldflags='-s -w' -o bin/tiny-$name-stripped ./tiny/$dir
  local out; out=$(./bin/tiny-$name 2>&1 | tr '\n' ' ' | cut -c1-160 || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cgo" "$(stat -c %s bin/tiny-$name)" "$(stat -c %s bin/tiny-$name-stripped)" "$out" >> results/sizes.tsv
}
tiny modernc 0 "" modernc
tiny ncruces 0 "" ncruces
tiny ncruces-fts5 0 "" ncruces-fts5
tiny zombiezen 0 "" zombiezen
tiny mattn 1 "" mattn
tiny mattn-fts5 1 sqlite_fts5 mattn
tiny mattn-nocgo 0 "" mattn
cat results/sizes.tsv

echo "== benchmarks (each driver twice, sequentially)"
for run in 1 2; do
  for d in modernc ncruces mattn zombiezen; do
    ./bin/bench-$d > results/$d-run$run.json
  done
done
NCRUCES_FTS5=0 ./bin/bench-ncruces > results/ncruces-nofts5-run1.json  # plain driver: shows FTS5 is missing

go run ./cmd/report > REPORT.md
cat REPORT.md
