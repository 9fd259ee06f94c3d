#!/usr/bin/env bash
# Profiles one `edgepipe replay` of a synthetic trace and writes, per stage thread, where the
# CPU time went: a flame graph (SVG, one tower per thread: source, transform, spool, sinks), the
# folded stacks it was drawn from, and a report naming the top functions of each thread.
#
#   With `perf` (sampling, cpu-clock, DWARF unwinding: works without frame pointers and without
#   hardware counters, which a VM often lacks): perf record -> perf script -> inferno's
#   collapse-perf and flamegraph (crates.io; installed once into ~/.cache/edgepipe/tools).
#   Without a usable `perf`: valgrind's callgrind with one profile per thread; the report names
#   the top functions per thread by instructions (no flame graph: callgrind keeps caller/callee
#   pairs, not whole stacks).
#
# usage: perf/profile.sh [path/to/edgepipe]             (default: build/edgepipe)
# env:   API=coingecko|iss|randomuser  PAYLOADS (default: about a second of replay)  SINK=file|none
#        TOP=8 (functions per thread)  OUT=perf/out (report.md, flame.svg, stacks.folded)
#        PROFILER=perf|callgrind (default: perf when `perf record` works here)
set -euo pipefail

BIN=${1:-build/edgepipe}
API=${API:-coingecko}
TOP=${TOP:-8}
SINK=${SINK:-file}
OUT=${OUT:-perf/out}
TOOLS=${EDGEPIPE_CACHE:-$HOME/.cache/edgepipe}/tools
INFERNO_VERSION=0.12.8

die() { echo "profile.sh: $*" >&2; exit 2; }
[[ -x "$BIN" ]] || die "$BIN is not an executable (scripts/build.sh)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-profile.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
here=$(cd "$(dirname "$0")" && pwd)

profiler=${PROFILER:-}
if [[ -z "$profiler" ]]; then
  if command -v perf >/dev/null &&
    perf record -q -e cpu-clock -o "$WORK/probe.data" -- true >/dev/null 2>&1; then
    profiler=perf
  else
    profiler=callgrind
  fi
fi
# About a second of replay with perf (coingecko: 250 records a payload, iss: 1, randomuser: 10);
# callgrind runs the program ~50x slower.
case $profiler:$API in
  perf:coingecko) PAYLOADS=${PAYLOADS:-2000} ;;
  perf:iss) PAYLOADS=${PAYLOADS:-300000} ;;
  perf:*) PAYLOADS=${PAYLOADS:-20000} ;;
  callgrind:coingecko) PAYLOADS=${PAYLOADS:-40} ;;
  callgrind:*) PAYLOADS=${PAYLOADS:-4000} ;;
esac
[[ "$profiler" == perf || "$profiler" == callgrind ]] ||
  die "PROFILER must be perf or callgrind, not '$profiler'"

trace=$WORK/$API.trace
"$BIN" synth --api "$API" --payloads "$PAYLOADS" --out "$trace" --seed 1 >/dev/null
sink_args=()
[[ "$SINK" == file ]] && sink_args=(--sink "file:$WORK/out.jsonl")
[[ "$SINK" == none ]] && sink_args=(--sink "file:/dev/null")
cd "$WORK"  # the embedded config writes its spool and dead letters under ./edgepipe-out/
run=("$BIN" replay --trace "$trace" "${sink_args[@]}")
echo "profile.sh: $profiler, $API x $PAYLOADS payloads, $BIN" >&2

if [[ "$profiler" == perf ]]; then
  # inferno: the Rust port of Brendan Gregg's FlameGraph scripts.
  if [[ ! -x "$TOOLS/bin/inferno-flamegraph" ]]; then
    command -v cargo >/dev/null || die "inferno is not installed and cargo is missing"
    echo "profile.sh: installing inferno $INFERNO_VERSION into $TOOLS (once)" >&2
    cargo install --quiet --locked inferno --version "$INFERNO_VERSION" --root "$TOOLS" >&2
  fi
  perf record -q -e cpu-clock -F 1999 --call-graph dwarf,32768 -o "$WORK/perf.data" \
    -- "${run[@]}" >"$WORK/summary.json" 2>"$WORK/stderr" ||
    { tail -n 20 "$WORK/stderr" >&2; die "replay under perf record failed"; }
  # One frame per thread name at the root (source, transform, spool, sink:NAME...).
  perf script -i "$WORK/perf.data" 2>/dev/null |
    "$TOOLS/bin/inferno-collapse-perf" --all >"$OUT/stacks.folded"
  "$TOOLS/bin/inferno-flamegraph" --title "edgepipe replay: $API, $PAYLOADS payloads (cpu-clock samples)" \
    --countname samples <"$OUT/stacks.folded" >"$OUT/flame.svg"
  python3 "$here/top_functions.py" folded "$OUT/stacks.folded" "$TOP" "$WORK/summary.json" \
    "perf record -e cpu-clock -F 1999 --call-graph dwarf" >"$OUT/report.md"
else
  valgrind --tool=callgrind --separate-threads=yes --dump-instr=no \
    --callgrind-out-file="$WORK/callgrind.out" "${run[@]}" >"$WORK/summary.json" 2>"$WORK/stderr" ||
    { tail -n 20 "$WORK/stderr" >&2; die "replay under callgrind failed"; }
  rm -f "$OUT/flame.svg" "$OUT/stacks.folded"
  for f in "$WORK"/callgrind.out-*; do
    callgrind_annotate --inclusive=no --threshold=100 "$f" >"$f.self" 2>/dev/null || true
    callgrind_annotate --inclusive=yes --threshold=100 "$f" >"$f.inclusive" 2>/dev/null || true
  done
  python3 "$here/top_functions.py" callgrind "$WORK" "$TOP" "$WORK/summary.json" \
    "valgrind --tool=callgrind --separate-threads=yes" >"$OUT/report.md"
fi
cat "$OUT/report.md"
echo "profile.sh: report $OUT/report.md${OUT:+, flame graph $OUT/flame.svg (perf only)}" >&2
