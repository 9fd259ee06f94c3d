#!/usr/bin/env bash
# End-to-end sink benchmark against the local stack (scripts/stack.sh up): edgepipe replaying a
# CoinGecko trace to Kafka beside librdkafka's raw producer rate for the same messages to the
# same broker, and a randomuser trace to MongoDB beside a raw libmongoc bulk insert of the same
# documents -- both measured in the same run, REPEAT times (alternating which goes first), median
# and min..max printed.
#   benchmarks/sinks_e2e.sh [build-dir]      (env: PAYLOADS_CG=400 PAYLOADS_RU=20000 REPEAT=3)
# Both sides connect before their clock starts (edgepipe in open(), the raw clients with a
# metadata request / a ping); 20k MongoDB documents keep start-up from dominating the runs.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build" && pwd)/edgepipe  # absolute: the runs below cd into the work directory
raw=$(cd "$build" && pwd)/benchmarks/raw_sink_ceiling
cg=${PAYLOADS_CG:-400}
ru=${PAYLOADS_RU:-20000}
repeat=${REPEAT:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" synth --api coingecko --payloads "$cg" --out "$work/cg.trace" --seed 1 >/dev/null
"$bin" synth --api randomuser --payloads "$ru" --out "$work/ru.trace" --seed 1 >/dev/null
# The exact messages edgepipe sends, for the raw clients.
(cd "$work" && "$bin" replay --trace cg.trace --sink file:cg.jsonl >/dev/null 2>&1)
(cd "$work" && "$bin" replay --trace ru.trace --sink file:ru.jsonl >/dev/null 2>&1)

results=$work/results.jsonl
ep_kafka() {
  (cd "$work" && "$bin" replay --trace cg.trace --sink "kafka://127.0.0.1:9092/bench-ep-$1" 2>/dev/null) |
    python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print(json.dumps({"kind":"edgepipe_kafka","per_second":s["records"]/s["seconds"],"delivered":s["delivered"]["kafka"]}))' >>"$results"
}
# Same topic as edgepipe's (it created it with the sink's partitions), same keys.
raw_kafka() { "$raw" kafka 127.0.0.1:9092 "bench-ep-$1" "$work/cg.jsonl" >>"$results"; }
ep_mongo() {
  (cd "$work" && "$bin" replay --trace ru.trace --sink "mongodb://127.0.0.1:27017/bench_$1.ep" 2>/dev/null) |
    python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print(json.dumps({"kind":"edgepipe_mongodb","per_second":s["records"]/s["seconds"],"delivered":s["delivered"]["mongodb"]}))' >>"$results"
}
raw_mongo() { "$raw" mongo "mongodb://127.0.0.1:27017" "bench_$1" raw "$work/ru.jsonl" >>"$results"; }
# Kafka rounds first, then MongoDB, so neither server's background work (FerretDB's SQLite after
# a drop, the broker's log flushes) lands on the other's runs; within a round the side that goes
# first alternates (run i odd: edgepipe first), so neither always follows the other.
prev=""
for i in $(seq "$repeat"); do
  id=$(date +%s%N)
  if (( i % 2 == 1 )) || [[ -z "$prev" ]]; then ep_kafka "$id"; raw_kafka "$id"; prev=$id
  else raw_kafka "$prev"; ep_kafka "$id"; prev=$id; fi
done
for i in $(seq "$repeat"); do
  id=$(date +%s%N)
  if (( i % 2 == 1 )); then ep_mongo "$id"; raw_mongo "$id"; else raw_mongo "$id"; ep_mongo "$id"; fi
  python3 -c "import pymongo; pymongo.MongoClient('mongodb://127.0.0.1:27017').drop_database('bench_$id')"
done

python3 - "$results" "$cg" "$ru" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows: by.setdefault(r["kind"], []).append(r["per_second"])
def line(kind, what):
    v = sorted(by[kind]); return f"{what:48s} median {statistics.median(v):>9.0f}/s  (min {v[0]:.0f}, max {v[-1]:.0f}, n={len(v)})"
print(f"CoinGecko {int(sys.argv[2])*250} records -> Kafka 127.0.0.1:9092 (lz4, idempotent, acks=all)")
print(line("edgepipe_kafka", "  edgepipe replay -> kafka sink"))
print(line("librdkafka_raw_producer", "  librdkafka raw producer, same messages (ceiling)"))
k = statistics.median(by["edgepipe_kafka"]) / statistics.median(by["librdkafka_raw_producer"])
print(f"  edgepipe / ceiling = {k:.0%} (target >= 60%)")
print(f"randomuser {sys.argv[3]} records -> MongoDB wire (FerretDB) 127.0.0.1:27017, insert mode")
print(line("edgepipe_mongodb", "  edgepipe replay -> mongodb sink"))
print(line("libmongoc_raw_bulk_insert", "  libmongoc raw bulk insert, same docs (ceiling)"))
m = statistics.median(by["edgepipe_mongodb"]) / statistics.median(by["libmongoc_raw_bulk_insert"])
print(f"  edgepipe / ceiling = {m:.0%} (target >= 80%)")
PY
