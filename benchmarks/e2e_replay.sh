#!/usr/bin/env bash
# End-to-end replay throughput: trace file -> replay source -> transform -> io_uring file sink.
#
# Builds nothing. Synthesizes one trace per seed API into a temporary directory, runs
#   edgepipe replay --trace T --sink file:DIR/out.jsonl
# RUNS times per API (fresh output file each time), parses the JSON summary line edgepipe prints
# on stdout and prints median [min .. max] of records/s, input MB/s, wall seconds and the sink
# latency quantiles. Also times `cat trace > /dev/null` on the same file (page-cache read: the
# traces were just written, so this is the read ceiling the replay source sees, not a cold disk).
#
# usage: benchmarks/e2e_replay.sh [path/to/edgepipe]        (default: build/edgepipe)
# env:   RUNS=5  CG_PAYLOADS=2000 (x250 coins = 500k records, ~390 MB)
#        ISS_PAYLOADS=200000 (1 record each, ~23 MB)  RU_PAYLOADS=100000 (1 record each, ~120 MB)
#        APIS="coingecko iss randomuser"  KEEP=1 (keep the temp dir)  TMPDIR (where it goes)
set -euo pipefail

BIN=${1:-build/edgepipe}
RUNS=${RUNS:-5}
CG_PAYLOADS=${CG_PAYLOADS:-2000}
ISS_PAYLOADS=${ISS_PAYLOADS:-200000}
RU_PAYLOADS=${RU_PAYLOADS:-100000}
APIS=${APIS:-"coingecko iss randomuser"}

if [[ ! -x "$BIN" ]]; then
  echo "e2e_replay: $BIN is not an executable (build it first: ninja -C build edgepipe)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
command -v python3 >/dev/null || { echo "e2e_replay: python3 is required" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-e2e.XXXXXX")
cleanup() { if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
cd "$WORK"  # the embedded config's dead-letter sink writes to ./edgepipe-out/

echo "# machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# edgepipe: $BIN ($("$BIN" --version 2>/dev/null || echo '?'))"
echo "# runs per API: $RUNS; temp dir: $WORK"

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

now_ns() { date +%s%N; }

for api in $APIS; do
  case "$api" in
    coingecko) n=$CG_PAYLOADS ;;
    iss) n=$ISS_PAYLOADS ;;
    randomuser) n=$RU_PAYLOADS ;;
    *) echo "e2e_replay: unknown api $api" >&2; exit 2 ;;
  esac
  trace="$WORK/$api.trace"
  "$BIN" synth --api "$api" --payloads "$n" --out "$trace" --seed 1 >/dev/null
  bytes=$(stat -c %s "$trace")
  echo "# $api: $n payloads, $bytes bytes"

  for ((i = 1; i <= RUNS; ++i)); do
    # Disk-read ceiling: the same file through cat.
    t0=$(now_ns)
    cat "$trace" >/dev/null
    t1=$(now_ns)
    printf '{"api":"%s","kind":"cat","bytes":%s,"ns":%s}\n' "$api" "$bytes" "$((t1 - t0))" >>"$RESULTS"

    rm -rf "$WORK/out.jsonl" "$WORK"/out.jsonl.* "$WORK/edgepipe-out"  # the sink appends
    t0=$(now_ns)
    if ! "$BIN" replay --trace "$trace" --sink "file:$WORK/out.jsonl" >"$WORK/stdout" 2>"$WORK/stderr"; then
      echo "e2e_replay: edgepipe replay failed for $api:" >&2
      cat "$WORK/stderr" >&2
      exit 1
    fi
    t1=$(now_ns)
    summary=$(grep '^{' "$WORK/stdout" | tail -n 1)
    out_bytes=$(stat -c %s "$WORK/out.jsonl")
    printf '{"api":"%s","kind":"replay","bytes":%s,"ns":%s,"out_bytes":%s,"summary":%s}\n' \
      "$api" "$bytes" "$((t1 - t0))" "$out_bytes" "$summary" >>"$RESULTS"
  done
done

python3 - "$RESULTS" <<'EOF'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]

def fmt(values, unit="", scale=1.0, digits=1):
    v = [x * scale for x in values]
    return (f"{statistics.median(v):,.{digits}f}{unit} "
            f"[{min(v):,.{digits}f} .. {max(v):,.{digits}f}]")

apis = []
for r in rows:
    if r["api"] not in apis:
        apis.append(r["api"])

print()
print("median [min .. max] over", max(1, sum(1 for r in rows if r["kind"] == "replay") // max(1, len(apis))), "runs")
for api in apis:
    rep = [r for r in rows if r["api"] == api and r["kind"] == "replay"]
    cat = [r for r in rows if r["api"] == api and r["kind"] == "cat"]
    s = [r["summary"] for r in rep]
    records = s[0]["records"]
    print(f"\n{api}: {s[0]['payloads']} payloads, {records} records, "
          f"{rep[0]['bytes'] / 1e6:.1f} MB trace -> {rep[0]['out_bytes'] / 1e6:.1f} MB out, "
          f"rejected {s[0]['rejected']}, dead letters {s[0]['dead_letters']}")
    print(f"  records/s            {fmt([x['records_per_second'] for x in s], '', 1e-3, 1)} k")
    print(f"  input MB/s           {fmt([x['input_mb_per_second'] for x in s])}")
    print(f"  pipeline seconds     {fmt([x['seconds'] for x in s], ' s', 1, 3)}")
    print(f"  process wall seconds {fmt([r['ns'] for r in rep], ' s', 1e-9, 3)}  (incl. start-up)")
    print(f"  latency p50 (us)     {fmt([x['latency_us']['p50'] for x in s], '', 1, 0)}")
    print(f"  latency p99 (us)     {fmt([x['latency_us']['p99'] for x in s], '', 1, 0)}")
    print(f"  ring stalls          {fmt([x['ring_stalls'] for x in s], '', 1, 0)}")
    print(f"  cat MB/s (ceiling)   {fmt([r['bytes'] / (r['ns'] / 1e9) / 1e6 for r in cat])}")
EOF
