#!/usr/bin/env bash
# The spool end to end (issue 4), in two parts. Builds nothing.
#
# 1. Spool on vs off: `edgepipe replay --trace T --sink file:OUT` on a CoinGecko trace with
#    `--spool DIR` (the embedded config's [spool]: fsync = interval, 10 ms) and with
#    `--spool none`, RUNS times each, rotating which goes first, fresh output and spool each
#    time. Prints median [min .. max] of records/s per mode and the ratio of the medians (target:
#    spool costs <= 15%, i.e. interval/none >= 0.85), plus the disk's own fdatasync cost (4 KiB
#    write + fdatasync, 50 times) and `cat trace` as the read ceiling. MODES adds the other
#    policies (config/default.toml with `fsync` changed, passed with -c): every_batch, off.
# 2. Recovery of a ~1 GB backlog (benchmarks/spool_recovery): `make` fills a spool directory
#    with RECOVERY_BYTES of unconfirmed CoinGecko frames; `measure` (RECOVERY_RUNS times) times
#    spool::open cold/warm and a spool_cursor reading the whole backlog cold/warm, beside pread
#    of the same files. Then RESTART_RUNS times: a fresh backlog, page cache dropped, and the
#    daemon restarted on it (`edgepipe replay` of a 1-payload trace with --spool on that
#    directory): process wall time until the file sink has every backlog record, i.e. recovery +
#    delivery of the whole backlog.
#
# usage: benchmarks/spool_e2e.sh [build dir]              (default: build)
# env:   RUNS=5 CG_PAYLOADS=2000 (x250 = 500k records)  RECOVERY_BYTES=1000000000
#        RECOVERY_RUNS=3 RESTART_RUNS=3  PARTS="onoff recovery"  KEEP=1  TMPDIR
#        MODES="none interval" (add every_batch and/or off for the other fsync policies)
#        PARTS="sinks": SINK_CG_PAYLOADS=800 SINK_RU_PAYLOADS=20000 (needs the local stack)
set -euo pipefail

BUILD=${1:-build}
BIN=$BUILD/edgepipe
TOOL=$BUILD/benchmarks/spool_recovery
RUNS=${RUNS:-5}
CG_PAYLOADS=${CG_PAYLOADS:-2000}
RECOVERY_BYTES=${RECOVERY_BYTES:-1000000000}
RECOVERY_RUNS=${RECOVERY_RUNS:-3}
RESTART_RUNS=${RESTART_RUNS:-3}
PARTS=${PARTS:-"onoff recovery"}
MODES=${MODES:-"none interval"}  # none = --spool none; interval = the embedded default
REPO=$(cd "$(dirname "$0")/.." && pwd)

for x in "$BIN" "$TOOL"; do
  [[ -x "$x" ]] || { echo "spool_e2e: $x is not built (ninja -C $BUILD edgepipe spool_recovery)" >&2; exit 2; }
done
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
TOOL=$(cd "$(dirname "$TOOL")" && pwd)/$(basename "$TOOL")
command -v python3 >/dev/null || { echo "spool_e2e: python3 is required" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-spool-e2e.XXXXXX")
cleanup() { if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
cd "$WORK"  # the embedded config writes ./edgepipe-out/ (dead letters)

echo "# machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# edgepipe: $BIN; temp dir: $WORK (filesystem: $(df -T "$WORK" | awk 'NR==2 {print $1, $2}'))"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
now_ns() { date +%s%N; }

# The disk's own fdatasync cost: 50 x (4 KiB write + fdatasync) on this filesystem.
python3 - "$WORK/fsync.probe" >>"$RESULTS" <<'EOF'
import os, sys, time, json
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
lat = []
for _ in range(50):
    os.write(fd, b"x" * 4096)
    t = time.perf_counter(); os.fdatasync(fd); lat.append(time.perf_counter() - t)
os.close(fd); os.unlink(sys.argv[1])
lat.sort()
print(json.dumps({"kind": "fdatasync", "p50_ms": lat[25] * 1e3, "min_ms": lat[0] * 1e3, "max_ms": lat[-1] * 1e3}))
EOF

run_replay() {  # mode trace -> appends one result line
  local mode=$1 trace=$2
  local -a args=(--spool "$WORK/spool")
  rm -rf "$WORK/out.jsonl" "$WORK"/out.jsonl.* "$WORK/edgepipe-out" "$WORK/spool"
  case $mode in
    none) args=(--spool none) ;;
    interval) ;;
    *) args+=(-c "$WORK/$mode.toml") ;;
  esac
  local t0 t1
  t0=$(now_ns)
  if ! timeout 600 "$BIN" replay --trace "$trace" "${args[@]}" --sink "file:$WORK/out.jsonl" \
      >"$WORK/stdout" 2>"$WORK/stderr"; then
    echo "spool_e2e: edgepipe replay (spool $mode) failed or timed out:" >&2
    tail -20 "$WORK/stderr" >&2
    exit 1
  fi
  t1=$(now_ns)
  local summary
  summary=$(grep '^{"payloads"' "$WORK/stdout" | tail -n 1)
  printf '{"kind":"replay","mode":"%s","ns":%s,"out_bytes":%s,"summary":%s}\n' \
    "$mode" "$((t1 - t0))" "$(stat -c %s "$WORK/out.jsonl")" "$summary" >>"$RESULTS"
}

if [[ " $PARTS " == *" onoff "* ]]; then
  trace="$WORK/coingecko.trace"
  "$BIN" synth --api coingecko --payloads "$CG_PAYLOADS" --out "$trace" --seed 1 >/dev/null
  bytes=$(stat -c %s "$trace")
  echo "# coingecko: $CG_PAYLOADS payloads, $bytes bytes; $RUNS runs per mode ($MODES), rotating"
  read -r -a modes <<<"$MODES"
  for mode in "${modes[@]}"; do
    case $mode in
      none | interval) ;;
      every_batch | off)
        sed "s/^fsync = .*/fsync = \"$mode\"/" "$REPO/config/default.toml" >"$WORK/$mode.toml" ;;
      *) echo "spool_e2e: unknown mode $mode" >&2; exit 2 ;;
    esac
  done
  for ((i = 1; i <= RUNS; ++i)); do
    t0=$(now_ns); cat "$trace" >/dev/null; t1=$(now_ns)
    printf '{"kind":"cat","bytes":%s,"ns":%s}\n' "$bytes" "$((t1 - t0))" >>"$RESULTS"
    n=${#modes[@]}
    for ((k = 0; k < n; ++k)); do run_replay "${modes[$(((i + k) % n))]}" "$trace"; done
  done
fi

# 3. Spool on vs off on the deployment path (PARTS="sinks", needs `scripts/stack.sh up`): the
#    same replay to the real Kafka (CoinGecko, SINK_CG_PAYLOADS x 250 records, a new topic per
#    run) and to MongoDB (randomuser, SINK_RU_PAYLOADS documents, a new collection per run), spool
#    on (embedded default) and --spool none alternating, RUNS times each.
run_sink_replay() {  # sink mode trace uri -> appends one result line
  local sink=$1 mode=$2 trace=$3 uri=$4
  local -a args=(--spool "$WORK/spool")
  [[ $mode == none ]] && args=(--spool none)
  rm -rf "$WORK/spool" "$WORK/edgepipe-out"
  if ! timeout 600 "$BIN" replay --trace "$trace" "${args[@]}" --sink "$uri" \
      >"$WORK/stdout" 2>"$WORK/stderr"; then
    echo "spool_e2e: edgepipe replay to $uri (spool $mode) failed or timed out:" >&2
    tail -20 "$WORK/stderr" >&2
    exit 1
  fi
  printf '{"kind":"sink","sink":"%s","mode":"%s","summary":%s}\n' "$sink" "$mode" \
    "$(grep '^{"payloads"' "$WORK/stdout" | tail -n 1)" >>"$RESULTS"
}

if [[ " $PARTS " == *" sinks "* ]]; then
  SINK_CG_PAYLOADS=${SINK_CG_PAYLOADS:-800}
  SINK_RU_PAYLOADS=${SINK_RU_PAYLOADS:-20000}
  "$BIN" synth --api coingecko --payloads "$SINK_CG_PAYLOADS" --out "$WORK/cg-sink.trace" --seed 1 >/dev/null
  "$BIN" synth --api randomuser --payloads "$SINK_RU_PAYLOADS" --out "$WORK/ru-sink.trace" --seed 1 >/dev/null
  echo "# sinks: kafka $((SINK_CG_PAYLOADS * 250)) coingecko records, mongodb $SINK_RU_PAYLOADS randomuser documents; $RUNS runs per mode, alternating"
  for ((i = 1; i <= RUNS; ++i)); do
    for mode in $( ((i % 2)) && echo "none interval" || echo "interval none"); do
      id="$(date +%s%N)"
      run_sink_replay kafka "$mode" "$WORK/cg-sink.trace" "kafka://127.0.0.1:9092/spool-e2e-$id"
      run_sink_replay mongodb "$mode" "$WORK/ru-sink.trace" "mongodb://127.0.0.1:27017/spool_e2e.c$id"
    done
  done
  python3 -c "import pymongo; pymongo.MongoClient('mongodb://127.0.0.1:27017').drop_database('spool_e2e')" || true
fi

if [[ " $PARTS " == *" recovery "* ]]; then
  backlog="$WORK/backlog"
  echo "# recovery: making a $RECOVERY_BYTES-byte backlog"
  make_line=$("$TOOL" make "$backlog" "$RECOVERY_BYTES")
  printf '{"kind":"make","result":%s}\n' "$make_line" >>"$RESULTS"
  for ((i = 1; i <= RECOVERY_RUNS; ++i)); do
    printf '{"kind":"recovery","result":%s}\n' "$("$TOOL" measure "$backlog")" >>"$RESULTS"
  done
  "$BIN" synth --api coingecko --payloads 1 --out "$WORK/one.trace" --seed 2 >/dev/null
  for ((i = 1; i <= RESTART_RUNS; ++i)); do
    # A fresh backlog each time: a clean run deletes the segments it delivered.
    if ((i > 1)); then "$TOOL" make "$backlog" "$RECOVERY_BYTES" >/dev/null; fi
    rm -rf "$WORK/out.jsonl" "$WORK"/out.jsonl.* "$WORK/edgepipe-out"  # the sink rotates at 256 MB
    t0=$(now_ns)
    if ! timeout 900 "$BIN" replay --trace "$WORK/one.trace" --spool "$backlog" \
        --sink "file:$WORK/out.jsonl" >"$WORK/stdout" 2>"$WORK/stderr"; then
      echo "spool_e2e: restart on the backlog failed or timed out:" >&2
      tail -20 "$WORK/stderr" >&2
      exit 1
    fi
    t1=$(now_ns)
    summary=$(grep '^{"payloads"' "$WORK/stdout" | tail -n 1)
    printf '{"kind":"restart","ns":%s,"out_lines":%s,"out_bytes":%s,"summary":%s}\n' \
      "$((t1 - t0))" "$(cat "$WORK"/out.jsonl* | wc -l)" "$(cat "$WORK"/out.jsonl* | wc -c)" \
      "$summary" >>"$RESULTS"
  done
fi

python3 - "$RESULTS" <<'EOF'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def fmt(v, unit="", digits=1):
    return f"{statistics.median(v):,.{digits}f}{unit} [{min(v):,.{digits}f} .. {max(v):,.{digits}f}]"
med = statistics.median

for r in rows:
    if r["kind"] == "fdatasync":
        print(f"\ndisk: 4 KiB write + fdatasync: p50 {r['p50_ms']:.2f} ms [{r['min_ms']:.2f} .. {r['max_ms']:.2f}] (50 calls)")

modes = []
for r in rows:
    if r["kind"] == "replay" and r["mode"] not in modes:
        modes.append(r["mode"])
rep = {m: [r for r in rows if r["kind"] == "replay" and r["mode"] == m] for m in modes}
if "none" in rep and len(rep) > 1:
    s0 = rep["none"][0]["summary"]
    print(f"\nreplay -> file sink, coingecko {s0['payloads']} payloads, {s0['records']} records, "
          f"{len(rep['none'])} runs per mode, median [min .. max]")
    off = med([x["summary"]["records_per_second"] for x in rep["none"]])
    for m in ["none"] + [m for m in modes if m != "none"]:
        s = [r["summary"] for r in rep[m]]
        label = "spool none" if m == "none" else f"spool {m}"
        print(f"  {label:20s} records/s {fmt([x['records_per_second'] / 1e3 for x in s], 'k')}"
              f"   wall {fmt([r['ns'] / 1e9 for r in rep[m]], ' s', 3)}"
              f"   latency p99 {fmt([x['latency_us']['p99'] / 1e3 for x in s], ' ms', 0)}")
        if m == "none":
            continue
        sp = [x.get("spool", {}) for x in s]
        on = med([x["records_per_second"] for x in s])
        pairs = [a["summary"]["records_per_second"] / b["summary"]["records_per_second"]
                 for a, b in zip(rep[m], rep["none"])]
        verdict = ""
        if m == "interval":
            verdict = f"; target cost <= 15%: {'met' if on / off >= 0.85 else 'NOT met'}"
        print(f"  {'':20s} fsyncs {fmt([x.get('fsyncs', 0) for x in sp], '', 0)}, spool bytes "
              f"{sp[0].get('bytes', 0) / 1e6:.1f} MB; {m}/none ratio of medians {on / off:.3f} "
              f"(cost {100 * (1 - on / off):.1f}%), per run {fmt(pairs, '', 3)}{verdict}")
    cat = [r for r in rows if r["kind"] == "cat"]
    print(f"  cat trace (read ceiling) {fmt([r['bytes'] / r['ns'] * 1e3 for r in cat], ' MB/s', 0)}")

sk = [r for r in rows if r["kind"] == "sink"]
for sink in ("kafka", "mongodb"):
    by = {m: [r["summary"] for r in sk if r["sink"] == sink and r["mode"] == m] for m in ("none", "interval")}
    if not by["none"] or not by["interval"]:
        continue
    rate = {m: [x["records"] / x["seconds"] for x in v] for m, v in by.items()}
    lost = [x["records"] - x["delivered"][sink] for v in by.values() for x in v]
    ratio = med(rate["interval"]) / med(rate["none"])
    print(f"\nreplay -> {sink} ({by['none'][0]['records']} records), {len(rate['none'])} runs per mode, median [min .. max]")
    print(f"  spool none           records/s {fmt([x / 1e3 for x in rate['none']], 'k')}")
    print(f"  spool interval       records/s {fmt([x / 1e3 for x in rate['interval']], 'k')}")
    print(f"  {'':20s} interval/none ratio of medians {ratio:.3f} (cost {100 * (1 - ratio):.1f}%); "
          f"target cost <= 15%: {'met' if ratio >= 0.85 else 'NOT met'}; records not delivered: {sum(lost)}")

mk = [r["result"] for r in rows if r["kind"] == "make"]
rec = [r["result"] for r in rows if r["kind"] == "recovery"]
if rec:
    m = mk[0]
    gb = rec[0]["bytes"] / 1e9
    print(f"\nrecovery: backlog {rec[0]['bytes'] / 1e9:.2f} GB in {rec[0]['segments']} segments, "
          f"{rec[0]['records']:,} records (frames {m['frame_bytes'] / 1e9:.2f} GB); {len(rec)} runs")
    for k, what in (("open_cold_s", "spool::open, cold cache"), ("open_warm_s", "spool::open, warm cache"),
                    ("read_cold_s", "cursor read all, cold"), ("read_warm_s", "cursor read all, warm"),
                    ("pread_cold_s", "pread ceiling, cold"), ("pread_warm_s", "pread ceiling, warm")):
        v = [r[k] for r in rec]
        extra = "" if k.startswith("open") else (
            f"  = {fmt([gb * 1e3 / x for x in v], ' MB/s', 0)}, "
            f"{fmt([r['records'] / x / 1e6 for r, x in zip(rec, v)], 'M records/s', 2)}")
        print(f"  {what:26s} {fmt(v, ' s', 3)}{extra}")
rs = [r for r in rows if r["kind"] == "restart"]
if rs:
    print(f"\ndaemon restart on the cold backlog -> file sink ({len(rs)} runs): wall "
          f"{fmt([r['ns'] / 1e9 for r in rs], ' s', 2)}, "
          f"{fmt([r['out_lines'] / (r['ns'] / 1e9) / 1e3 for r in rs], 'k records/s', 0)}, "
          f"delivered lines {rs[0]['out_lines']:,} (backlog + {rs[0]['summary']['records']} new; "
          f"summary delivered {rs[0]['summary']['delivered']}), "
          f"{rs[0]['out_bytes'] / 1e9:.2f} GB out; recovered_records "
          f"{rs[0]['summary'].get('spool', {}).get('recovered_records', '?')}")
EOF
