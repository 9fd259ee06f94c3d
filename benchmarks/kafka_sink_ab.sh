#!/usr/bin/env bash
# Kafka sink against raw librdkafka, old binary against new (issue 21 item 3): each round runs
# `edgepipe replay` of the same trace with the OLD and the NEW binary (spool on, a fresh spool and
# a fresh topic per run) and raw_sink_ceiling's producer for the same messages to a topic the
# new binary created in that round (same partitions, keys, headers), with and without
# RD_KAFKA_MSG_F_COPY. Each round also lets both binaries drain the same records from a spool
# backlog (what a Kafka outage leaves behind: `replay` of an empty trace, the sink the only busy
# stage, reading the spool's segments), which measures the sink against raw without the
# transform sharing the CPUs. The raw producer runs twice: with a 64 MiB queue (`raw`) and with the
# sink's own bound, 8 MiB (`raw8`, RAW_QUEUE_KBYTES=8192), which is the faster on a 2-vCPU box (its
# queued messages stay in cache). The order is reversed every other round. Prints per kind the
# median records/s [min .. max], the per-round ratios (new/raw, new/raw8, old/raw, new/old...:
# median [min .. max]) and the process CPU per record (edgepipe's summary cpu_seconds, the raw
# producer's over its timed part; the broker's JVM is not in either).
#   benchmarks/kafka_sink_ab.sh OLD_EDGEPIPE NEW_EDGEPIPE RAW_SINK_CEILING
#   env: BROKERS=127.0.0.1:9092 API=coingecko PAYLOADS=800 ROUNDS=5
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
raw=$(realpath "$3")
brokers=${BROKERS:-127.0.0.1:9092}
api=${API:-coingecko}
payloads=${PAYLOADS:-800}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$new" synth --api "$api" --payloads "$payloads" --out "$work/in.trace" --seed 1 >/dev/null
# The exact messages edgepipe sends, for the raw producer.
(cd "$work" && "$new" replay --trace in.trace --spool none --sink file:msgs.jsonl >/dev/null 2>&1)
# The file sink rotates at 256 MiB (msgs.jsonl.1 is the oldest): the messages in order, one file.
for n in $(seq 1 1000); do
  [[ -f $work/msgs.jsonl.$n ]] || break
  cat "$work/msgs.jsonl.$n" >>"$work/in.jsonl"
  rm "$work/msgs.jsonl.$n"
done
cat "$work/msgs.jsonl" >>"$work/in.jsonl" && rm "$work/msgs.jsonl"
records=$(wc -l <"$work/in.jsonl")
# The backlog: a replay whose only sink is /dev/full (every write fails with ENOSPC, nothing is
# confirmed, the spool keeps every record), stopped with SIGTERM once all records are committed.
"$new" synth --api "$api" --payloads 0 --out "$work/empty.trace" --seed 1 >/dev/null
(cd "$work" && exec "$new" replay --trace in.trace --spool "$work/backlog" \
  --sink file:/dev/full >/dev/null 2>"$work/backlog.err") &
filler=$!
for _ in $(seq 3000); do
  committed=$("$new" spool inspect "$work/backlog" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["committed_end"])' 2>/dev/null || true)
  [[ $committed == "$records" ]] && break
  sleep 0.2
done
kill -TERM "$filler"
wait "$filler" || true # exits non-zero: its sink confirmed nothing
if [[ $committed != "$records" ]]; then
  echo "kafka_sink_ab: the backlog spool holds ${committed:-0} of $records records" >&2
  exit 1
fi
results=$work/results.jsonl
ep() {  # ep KIND BINARY TOPIC
  rm -rf "$work/spool"
  (cd "$work" && "$2" replay --trace in.trace --spool "$work/spool" \
    --sink "kafka://$brokers/$3" 2>"$work/$1.err") |
    python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print(json.dumps({"kind":sys.argv[1],"round":int(sys.argv[2]),"per_second":s["records"]/s["seconds"],"delivered":s["delivered"]["kafka"]}|({"cpu_us_per_record":s["cpu_seconds"]*1e6/max(1,s["records"])} if "cpu_seconds" in s else {})))' "$1" "$round" >>"$results"
}
drain() {  # drain KIND BINARY TOPIC: the backlog (a copy) to Kafka, nothing else running
  rm -rf "$work/spool"
  cp -a "$work/backlog" "$work/spool"
  (cd "$work" && "$2" replay --trace empty.trace --spool "$work/spool" \
    --sink "kafka://$brokers/$3" 2>"$work/$1.err") |
    python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); d=s["delivered"]["kafka"]; print(json.dumps({"kind":sys.argv[1],"round":int(sys.argv[2]),"per_second":d/s["seconds"],"delivered":d}|({"cpu_us_per_record":s["cpu_seconds"]*1e6/max(1,d)} if "cpu_seconds" in s else {})))' "$1" "$round" >>"$results"
}
rawp() {  # rawp KIND TOPIC copy|nocopy [QUEUE_KBYTES]
  RAW_QUEUE_KBYTES=${4:-65536} "$raw" kafka "$brokers" "$2" "$work/in.jsonl" "$3" |
    python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); s["kind"]=sys.argv[1]; s["round"]=int(sys.argv[2]); s["cpu_us_per_record"]=s["cpu_seconds"]*1e6/max(1,s["messages"]); print(json.dumps(s))' "$1" "$round" >>"$results"
}
for round in $(seq "$rounds"); do
  id=$(date +%s%N)
  if ((round % 2 == 1)); then
    ep old "$old" "ab-old-$id"; ep new "$new" "ab-new-$id"
    rawp raw "ab-new-$id" copy; rawp raw_nocopy "ab-new-$id" nocopy; rawp raw8 "ab-new-$id" copy 8192
    drain old_drain "$old" "ab-old-$id"; drain new_drain "$new" "ab-new-$id"
  else
    # Raw first: into the topic the new binary made last round (the sink's partitions).
    drain new_drain "$new" "ab-new-$prev"; drain old_drain "$old" "ab-old-$prev"
    rawp raw8 "ab-new-$prev" copy 8192; rawp raw_nocopy "ab-new-$prev" nocopy; rawp raw "ab-new-$prev" copy
    ep new "$new" "ab-new-$id"; ep old "$old" "ab-old-$id"
  fi
  prev=$id
done

python3 - "$results" "$api" "$payloads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by, per_round = {}, {}
for r in rows:
    by.setdefault(r["kind"], []).append(r["per_second"])
    per_round.setdefault(r["round"], {})[r["kind"]] = r["per_second"]
def span(v):
    v = sorted(v)
    return f"{statistics.median(v):,.0f} [{v[0]:,.0f} .. {v[-1]:,.0f}]"
def ratio(a, b):
    v = sorted(x[a] / x[b] for x in per_round.values() if a in x and b in x)
    return f"{statistics.median(v):.3f} [{v[0]:.3f} .. {v[-1]:.3f}] (n={len(v)})"
print(f"{sys.argv[2]}, {sys.argv[3]} payloads, {len(per_round)} rounds; records/s median [min .. max]")
for k in ("old", "new", "raw", "raw_nocopy", "raw8", "old_drain", "new_drain"):
    print(f"  {k:12s} {span(by[k])}")
for a, b in (("new", "raw"), ("new", "raw8"), ("old", "raw"), ("new", "raw_nocopy"), ("old", "raw_nocopy"),
             ("new", "old"), ("new_drain", "raw"), ("new_drain", "raw8"), ("old_drain", "raw"),
             ("new_drain", "old_drain")):
    print(f"  {a}/{b:12s} {ratio(a, b)}")
cpu = {}
for r in rows:
    if "cpu_us_per_record" in r:
        cpu.setdefault(r["kind"], []).append(r["cpu_us_per_record"])
print("  process CPU per record, us (the broker's JVM not included):")
for k in ("old", "new", "raw", "raw8", "old_drain", "new_drain"):
    if k in cpu:
        v = sorted(cpu[k])
        print(f"    {k:10s} {statistics.median(v):.2f} [{v[0]:.2f} .. {v[-1]:.2f}]")
short = [r for r in rows if r["kind"] in ("old", "new", "old_drain", "new_drain") and r["delivered"] != max(x.get("delivered", 0) for x in rows)]
if short: print("  WARNING: runs that did not deliver every record:", short)
PY
