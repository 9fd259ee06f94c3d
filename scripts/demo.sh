#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, synthesize realistic traces of
# the three seed APIs and replay them through the embedded default config (simdjson transforms)
# into the JSON Lines file sink, printing each replay's JSON summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
bin=build/edgepipe
out=${EDGEPIPE_DEMO_DIR:-edgepipe-out}
mkdir -p "$out"
"$bin" synth --api coingecko --payloads 400 --out "$out/coingecko.trace" --seed 1 >/dev/null
"$bin" synth --api iss --payloads 2000 --out "$out/iss.trace" --seed 1 >/dev/null
"$bin" synth --api randomuser --payloads 2000 --out "$out/randomuser.trace" --seed 1 >/dev/null
for api in coingecko iss randomuser; do
  echo "== $api"
  "$bin" replay --trace "$out/$api.trace" --sink "file:$out/$api.jsonl" 2>/dev/null
done
echo "== output"
wc -l "$out"/*.jsonl
