#!/usr/bin/env bash
# Instruction profile of the end-to-end path under callgrind: `edgepipe replay` of a small
# CoinGecko trace into a file sink. Prints total instructions (Ir), instructions per record, the
# marginal instructions per record (difference between a PAYLOADS and a 2*PAYLOADS run, which
# cancels start-up: config parsing, io_uring set-up, thread creation), and the top functions by
# self Ir and by inclusive Ir. Deterministic (instruction counts, not time), so usable on a busy
# 2-vCPU machine where wall-clock benchmarks are noisy.
#
# usage: perf/callgrind.sh [path/to/edgepipe]          (default: build/edgepipe)
# env:   PAYLOADS=20 (x250 coins)  API=coingecko|iss|randomuser  TOP=15
#        OUT=dir (keep callgrind.out.* there; default: a temp dir that is removed)
#        MARGINAL=0 (skip the second, 2*PAYLOADS run)
# Open the kept profile with: callgrind_annotate --inclusive=yes OUT/callgrind.out.big
#                             kcachegrind OUT/callgrind.out.big
set -euo pipefail

BIN=${1:-build/edgepipe}
PAYLOADS=${PAYLOADS:-20}
API=${API:-coingecko}
TOP=${TOP:-15}
MARGINAL=${MARGINAL:-1}

[[ -x "$BIN" ]] || { echo "callgrind.sh: $BIN is not an executable (ninja -C build edgepipe)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  WORK=$(cd "$OUT" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-callgrind.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"  # the embedded config's dead-letter sink writes to ./edgepipe-out/

# Runs one replay of N payloads under callgrind; prints "<total Ir> <records>".
profile() {
  local n=$1 tag=$2
  local trace="$WORK/$API.$n.trace"
  "$BIN" synth --api "$API" --payloads "$n" --out "$trace" --seed 1 >/dev/null
  rm -rf "$WORK/out.jsonl" "$WORK/edgepipe-out"
  # --separate-threads=no: one profile summed over all threads (source, transform, sinks).
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out.$tag" \
    --separate-threads=no --dump-instr=no \
    "$BIN" replay --trace "$trace" --sink "file:$WORK/out.jsonl" \
    >"$WORK/stdout.$tag" 2>"$WORK/stderr.$tag" || {
    echo "callgrind.sh: replay under valgrind failed:" >&2
    tail -n 20 "$WORK/stderr.$tag" >&2
    exit 1
  }
  callgrind_annotate --inclusive=no --threshold=100 "$WORK/callgrind.out.$tag" \
    >"$WORK/annotate.self.$tag" 2>/dev/null
  callgrind_annotate --inclusive=yes --threshold=100 "$WORK/callgrind.out.$tag" \
    >"$WORK/annotate.inclusive.$tag" 2>/dev/null
  local total records
  total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$WORK/annotate.self.$tag")
  records=$(grep '^{' "$WORK/stdout.$tag" | tail -n 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
  echo "$total $records"
}

echo "# $API trace, $PAYLOADS payloads, edgepipe $BIN"
out=$(profile "$PAYLOADS" small)
read -r total records <<<"$out"
python3 - "$total" "$records" <<'EOF'
import sys
total, records = int(sys.argv[1]), int(sys.argv[2])
print(f"total Ir: {total:,}   records: {records:,}   Ir/record (incl. start-up): {total / max(records, 1):,.0f}")
EOF
tag=small

if [[ "$MARGINAL" == 1 ]]; then
  out=$(profile "$((PAYLOADS * 2))" big)
  read -r total2 records2 <<<"$out"
  python3 - "$total" "$records" "$total2" "$records2" <<'EOF'
import sys
t1, r1, t2, r2 = map(int, sys.argv[1:])
print(f"2x run:   Ir {t2:,}   records {r2:,}")
if r2 > r1:
    print(f"marginal Ir/record: {(t2 - t1) / (r2 - r1):,.0f}   start-up (fixed) Ir: {t1 - (t2 - t1) / (r2 - r1) * r1:,.0f}")
EOF
  tag=big
fi

echo
# The function table is what follows the "file:function" header line.
top() { awk '/file:function/ { table = 1; getline; next } table && NF { print }' "$1" | head -n "$TOP" || true; }
echo "## top $TOP functions by self Ir (callgrind.out.$tag)"
top "$WORK/annotate.self.$tag"
echo
echo "## top $TOP functions by inclusive Ir"
top "$WORK/annotate.inclusive.$tag"
[[ -n "${OUT:-}" ]] && echo && echo "profiles kept in $WORK"
exit 0
