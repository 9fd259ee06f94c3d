#!/usr/bin/env bash
# ONE command for the peer harness (benchmarks/peers/README.md):
#   benchmarks/peers/run.sh
# 1. builds build/edgepipe if missing (ninja -C build edgepipe; scripts/build.sh configures first);
# 2. a cached venv $EDGEPIPE_CACHE/peers-venv (system site packages: kafka-python, pymongo) with
#    confluent-kafka and matplotlib from PyPI;
# 3. Bento v1.20.0 built with `go mod download` + `go build` of benchmarks/peers/bento (module
#    cache and binary under $EDGEPIPE_CACHE, nothing in git); if it cannot be built, Bento's rows
#    say SKIP with the reason and the others run;
# 4. checks the broker (127.0.0.1:9092) and MongoDB (127.0.0.1:27017) answer (`scripts/stack.sh up`
#    starts them; this script never stops or restarts them);
# 5. runs benchmarks/peers/run.py: results/{summary.md,runs.jsonl,*.png}.
# env: PEERS_ROUNDS=3  PEERS_WORKLOADS=coingecko (or coingecko,iss)  PEERS_MONGO=1
#      PEERS_SYSTEMS=edgepipe,edgepipe-spool-none,bento,confluent-kafka,kafka-python
#      PEERS_CG_PAYLOADS=2000  PEERS_ISS_PAYLOADS=1000000  PEERS_MONGO_PAYLOADS=50000
#      PEERS_RESULTS=benchmarks/peers/results  EDGEPIPE_CACHE=~/.cache/edgepipe  GO=/usr/local/go/bin/go
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${EDGEPIPE_CACHE:-$HOME/.cache/edgepipe}
export EDGEPIPE_CACHE=$CACHE
mkdir -p "$CACHE/peers"

# 1. edgepipe
if [[ -z "${EDGEPIPE_BINARY:-}" ]]; then
  if [[ ! -f "$ROOT/build/build.ninja" ]]; then
    "$ROOT/scripts/build.sh" >&2
  else
    ninja -C "$ROOT/build" edgepipe >&2
  fi
  export EDGEPIPE_BINARY=$ROOT/build/edgepipe
fi

# 2. the venv
VENV=$CACHE/peers-venv
STAMP="confluent-kafka matplotlib v1"
if [[ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$STAMP" ]]; then
  rm -rf "$VENV"
  python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check confluent-kafka matplotlib >&2
  echo "$STAMP" >"$VENV/.stamp"
fi
"$VENV/bin/python" -c 'import confluent_kafka, matplotlib, kafka, pymongo' ||
  { echo "peers: the venv lacks a module (kafka-python and pymongo come from the system python3)" >&2; exit 2; }

# 3. Bento
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
BENTO=$CACHE/peers/bento
export PEERS_BENTO=$BENTO
bento_stamp="$(cat "$HERE/bento/go.mod" "$HERE/bento/go.sum" "$HERE/bento/main.go" | sha256sum | cut -c1-16)"
if [[ ! -x "$BENTO" || "$(cat "$BENTO.stamp" 2>/dev/null)" != "$bento_stamp" ]]; then
  log=$CACHE/peers/bento-build.log
  if (cd "$HERE/bento" && export GOPATH=$CACHE/go GOMODCACHE=$CACHE/go/mod GOFLAGS=-mod=mod &&
      "$GO" mod download && "$GO" build -o "$BENTO" .) >"$log" 2>&1; then
    echo "$bento_stamp" >"$BENTO.stamp"
  else
    export PEERS_BENTO_SKIP="go build of github.com/warpstreamlabs/bento failed: $(grep -v '^go: downloading' "$log" | tail -3 | tr '\n' ' ')"
    echo "peers: $PEERS_BENTO_SKIP" >&2
  fi
fi

# 4. the servers
kcat -b 127.0.0.1:9092 -L -t __none >/dev/null 2>&1 ||
  { echo "peers: no Kafka broker on 127.0.0.1:9092 (scripts/stack.sh up)" >&2; exit 2; }
if [[ "${PEERS_MONGO:-1}" == 1 ]]; then
  "$VENV/bin/python" -c 'import pymongo; pymongo.MongoClient("mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=3000).admin.command("ping")' ||
    { echo "peers: no MongoDB on 127.0.0.1:27017 (scripts/stack.sh up), or PEERS_MONGO=0" >&2; exit 2; }
fi

# 5. the runs
exec "$VENV/bin/python" "$HERE/run.py" "$@"
