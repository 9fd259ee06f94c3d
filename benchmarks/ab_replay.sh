#!/usr/bin/env bash
# A/B of two edgepipe binaries end to end, alternating in one session (this machine's speed
# swings by tens of percent from one minute to the next, so only interleaved runs compare).
#
# Synthesizes one trace per API with binary A, then for ROUNDS rounds runs
#   BIN replay --trace T        (the embedded default config: spool on, file sink)
# for A and B, swapping which goes first every round, in a fresh directory each run. Prints per
# API and binary the median [min .. max] of records/s and peak RSS, and the per-round ratio B/A.
#
# usage: benchmarks/ab_replay.sh BIN_A BIN_B
# env:   ROUNDS=6  APIS="coingecko iss"  CG_PAYLOADS=1000 (x250 records)  ISS_PAYLOADS=200000
#        SINK=kafka://127.0.0.1:9092/topic  (replaces the default config's file sink; "" = it)
#        TRACE_DIR=dir  (reuse DIR/<api>-<payloads>.trace when present, else write it there)
set -euo pipefail

A=$(realpath "${1:?usage: ab_replay.sh BIN_A BIN_B}")
B=$(realpath "${2:?usage: ab_replay.sh BIN_A BIN_B}")
ROUNDS=${ROUNDS:-6}
APIS=${APIS:-"coingecko iss"}
CG_PAYLOADS=${CG_PAYLOADS:-1000}
ISS_PAYLOADS=${ISS_PAYLOADS:-200000}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-ab.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
echo "# machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); A=$A B=$B; $ROUNDS rounds"

run_one() {  # label binary api trace round
  local dir="$WORK/run"
  rm -rf "$dir" && mkdir -p "$dir"
  local summary rss
  # Peak RSS of the child from getrusage (python's resource module: no GNU time needed).
  summary=$(cd "$dir" && python3 - "$2" "$4" "${SINK:-}" <<'EOF'
import json, resource, subprocess, sys
cmd = [sys.argv[1], "replay", "--trace", sys.argv[2]] + (["--sink", sys.argv[3]] if sys.argv[3] else [])
p = subprocess.run(cmd, capture_output=True, text=True, check=True)
line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
s = json.loads(line)
s["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(s))
EOF
)
  printf '{"label":"%s","api":"%s","round":%s,"summary":%s}\n' "$1" "$3" "$5" "$summary" \
    >>"$RESULTS"
}

for api in $APIS; do
  case "$api" in
    coingecko) n=$CG_PAYLOADS ;;
    iss) n=$ISS_PAYLOADS ;;
    randomuser) n=${RU_PAYLOADS:-50000} ;;
    *) echo "ab_replay: unknown api $api" >&2; exit 2 ;;
  esac
  trace="${TRACE_DIR:-$WORK}/$api-$n.trace"
  [[ -s "$trace" ]] || "$A" synth --api "$api" --payloads "$n" --out "$trace" --seed 1 >/dev/null
  for ((r = 1; r <= ROUNDS; ++r)); do
    if ((r % 2)); then
      run_one A "$A" "$api" "$trace" "$r"; run_one B "$B" "$api" "$trace" "$r"
    else
      run_one B "$B" "$api" "$trace" "$r"; run_one A "$A" "$api" "$trace" "$r"
    fi
  done
done

python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def spread(v, digits=0):
    return f"{statistics.median(v):,.{digits}f} [{min(v):,.{digits}f} .. {max(v):,.{digits}f}]"
for api in dict.fromkeys(r["api"] for r in rows):
    first = next(r for r in rows if r["api"] == api)
    print(f"\n{api}: {first['summary']['records']} records per run")
    by = {}
    for r in rows:
        if r["api"] == api:
            by.setdefault(r["label"], {})[r["round"]] = r["summary"]
    for label in ("A", "B"):
        s = list(by[label].values())
        print(f"  {label}: records/s {spread([x['records_per_second'] for x in s])}, "
              f"peak RSS MB {spread([x['peak_rss_kb'] / 1024 for x in s], 1)}")
    ratios = [by["B"][k]["records_per_second"] / by["A"][k]["records_per_second"]
              for k in by["A"] if k in by["B"]]
    print(f"  B/A records/s per round: median {statistics.median(ratios):.3f} "
          f"[{min(ratios):.3f} .. {max(ratios):.3f}]")
EOF
