#!/usr/bin/env bash
# Latency A/B of two edgepipe binaries, paced: payload received -> record handed to the sink
# (the replay summary's latency_us), alternating in one session (order swapped every round), each
# run in a fresh directory with the embedded default config (spool on, fsync = "interval") and a
# file sink. A third column runs binary B with `--spool none` in the same rounds: the ceiling
# (what the hand-offs cost without a spool). Before and after the rounds, machine_jitter
# (benchmarks/machine_jitter.cpp, built with the benchmarks) measures the machine's own floor:
# how much of each CPU's time goes to gaps in which no thread of ours could run.
#
# Each run also reports the CPU it used (user + system seconds / wall seconds, /usr/bin/time).
#
# usage: benchmarks/latency_ab.sh BIN_A BIN_B
# env:   ROUNDS=3  PAYLOADS=50000  SPEED=50000x (with 50000 ISS payloads: 10,000 payloads/s)
#        PIN=0 runs every process under `taskset -c 0` (the same as [pipeline] cpus = "0",
#        which binaries older than that key do not know); empty = unconfined
#        JITTER=build/benchmarks/machine_jitter (skipped when missing)  JITTER_SECONDS=3
set -euo pipefail

A=$(realpath "${1:?usage: latency_ab.sh BIN_A BIN_B}")
B=$(realpath "${2:?usage: latency_ab.sh BIN_A BIN_B}")
ROUNDS=${ROUNDS:-3}
PAYLOADS=${PAYLOADS:-50000}
SPEED=${SPEED:-50000x}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-lat.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PIN=${PIN:-}
confine=()
[[ -n "$PIN" ]] && confine=(taskset -c "$PIN")
echo "# machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); A=$A B=$B; $ROUNDS rounds; CPUs: ${PIN:-all}"
"$A" synth --api iss --payloads "$PAYLOADS" --seed 1 --out "$WORK/iss.trace" >/dev/null

run_one() {  # label binary [extra args...]
  local label=$1 bin=$2
  shift 2
  local dir="$WORK/run"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && /usr/bin/time -f '%U %S' -o "$WORK/time" "${confine[@]}" "$bin" replay \
    --trace "$WORK/iss.trace" --speed "$SPEED" --sink file:out.jsonl "$@" 2>/dev/null |
    grep '^{' | tail -1) |
    python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
l = s["latency_us"]
user, system = map(float, open(sys.argv[2]).read().split()[-2:])
print(json.dumps({"label": sys.argv[1], "p50": l["p50"], "p99": l["p99"], "max": l["max"],
                  "records": s["records"], "cpus": round((user + system) / s["seconds"], 2)}))' \
      "$label" "$WORK/time" | tee -a "$WORK/results.jsonl"
}

JITTER=${JITTER:-$(dirname "$0")/../build/benchmarks/machine_jitter}
jitter() {  # the machine's floor, one summary line
  if [[ -x "$JITTER" ]]; then
    echo "# machine_jitter $1: $("$JITTER" "${JITTER_SECONDS:-3}" | tail -1)"
  else
    echo "# machine_jitter: $JITTER not built (cmake -DEDGEPIPE_BUILD_BENCHMARKS=ON)"
  fi
}
jitter before

for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    run_one A "$A"; run_one B "$B"; run_one B-spool-none "$B" --spool none
  else
    run_one B-spool-none "$B" --spool none; run_one B "$B"; run_one A "$A"
  fi
done
jitter after

python3 - "$WORK/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| binary | p50 us | p99 us | max us | CPUs used |")
print("|---|---|---|---|---|")
for label in ("A", "B", "B-spool-none"):
    rs = [r for r in rows if r["label"] == label]
    def fmt(k, digits=0):
        v = [r[k] for r in rs]
        return f"{statistics.median(v):.{digits}f} [{min(v)}..{max(v)}]"
    print(f"| {label} | {fmt('p50')} | {fmt('p99')} | {fmt('max')} | {fmt('cpus', 2)} |")
PY
