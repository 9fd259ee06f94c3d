#!/usr/bin/env bash
# Kafka delivery latency at a paced rate (issue 21 item 1, Kafka part): `edgepipe replay` of
# 50,000 ISS payloads at --speed 50000x (10,000 payloads/s; spool on, a fresh spool and topic per
# run), its summary's confirm_latency_us = payload received -> the Kafka delivery report, beside
# raw_sink_ceiling's paced producer (the same messages at RATE/s to the same broker, produce ->
# delivery report). OLD and NEW binaries and the raw producer alternate, order reversed every
# other round. Prints p50/p99 per kind: median [min .. max] over the rounds.
#   benchmarks/kafka_latency_ab.sh OLD_EDGEPIPE NEW_EDGEPIPE RAW_SINK_CEILING
#   env: BROKERS=127.0.0.1:9092 PAYLOADS=50000 SPEED=50000x RATE=10000 ROUNDS=5
#        CONFIG=file.toml (passed to both binaries with --config; e.g. [spool] fsync = "off" to
#        leave out the group commit's wait, which the spool adds before a sink sees a record)
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
raw=$(realpath "$3")
brokers=${BROKERS:-127.0.0.1:9092}
payloads=${PAYLOADS:-50000}
speed=${SPEED:-50000x}
rate=${RATE:-10000}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$new" synth --api iss --payloads "$payloads" --seed 1 --out "$work/iss.trace" >/dev/null
(cd "$work" && "$new" replay --trace iss.trace --spool none --sink file:iss.jsonl >/dev/null 2>&1)
results=$work/results.jsonl
ep() {  # ep KIND BINARY TOPIC
  rm -rf "$work/spool"
  (cd "$work" && "$2" replay ${CONFIG:+--config "$CONFIG"} --trace iss.trace --speed "$speed" \
    --spool "$work/spool" \
    --sink "kafka://$brokers/$3" 2>"$work/$1.err") |
    python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
c = s["confirm_latency_us"]
print(json.dumps({"kind": sys.argv[1], "p50": c["p50"], "p99": c["p99"], "max": c["max"],
                  "records": s["records"], "per_second": s["records"] / s["seconds"]}))' "$1" >>"$results"
}
rawp() {  # rawp TOPIC
  "$raw" kafka-latency "$brokers" "$1" "$work/iss.jsonl" "$rate" iss |
    python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
c = s["dr_latency_us"]
print(json.dumps({"kind": "raw", "p50": c["p50"], "p99": c["p99"], "max": c["max"],
                  "records": s["messages"], "per_second": s["messages"] / s["seconds"]}))' >>"$results"
}
for round in $(seq "$rounds"); do
  id=$(date +%s%N)
  if ((round % 2 == 1)); then
    ep old "$old" "lat-old-$id"; ep new "$new" "lat-new-$id"; rawp "lat-new-$id"
  else
    rawp "lat-new-$prev"; ep new "$new" "lat-new-$id"; ep old "$old" "lat-old-$id"
  fi
  prev=$id
done

python3 - "$results" "$payloads" "$speed" "$rate" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows: by.setdefault(r["kind"], []).append(r)
def span(v):
    v = sorted(v)
    return f"{statistics.median(v):,.0f} [{v[0]:,.0f} .. {v[-1]:,.0f}]"
print(f"ISS {sys.argv[2]} payloads, replay --speed {sys.argv[3]}, raw producer at {sys.argv[4]}/s")
print("  kind  records  rate/s  p50 us  p99 us  max us  (median [min .. max] over rounds)")
for k in ("old", "new", "raw"):
    rs = by.get(k, [])
    if not rs: continue
    print(f"  {k:4s} {rs[0]['records']} {span([r['per_second'] for r in rs])}  p50 {span([r['p50'] for r in rs])}  "
          f"p99 {span([r['p99'] for r in rs])}  max {span([r['max'] for r in rs])}")
PY
