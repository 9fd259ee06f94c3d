#!/usr/bin/env bash
# Runs tests/integration/test_exactly_once_all_sinks.py N times (default 10) with random kill
# points (ALLSINKS_SEED random per run: where in Kafka's drain the first kill -9 lands, how many
# of trace B's records the second one waits for) against one private stack (scripts/stack.sh
# with its own dir and ports: Kafka 29092/29093, FerretDB 27028, PostgreSQL 5443 by default,
# data in /tmp/edgepipe-allsinks-stress: never the shared stack), then takes it down.
# Prints one line per run (lost and duplicates per sink, records, seconds) and a tally; exits
# non-zero if any run failed.
#   scripts/stress_exactly_once_all_sinks.sh [RUNS]
# Env: ALLSINKS_STACK_DIR, ALLSINKS_KAFKA_PORT, ALLSINKS_KAFKA_CONTROLLER_PORT,
#      ALLSINKS_MONGO_PORT, ALLSINKS_PG_PORT (as for the test), EDGEPIPE_BINARY.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export ALLSINKS_STACK_DIR=${ALLSINKS_STACK_DIR:-/tmp/edgepipe-allsinks-stress}
export ALLSINKS_KAFKA_PORT=${ALLSINKS_KAFKA_PORT:-29092}
export ALLSINKS_KAFKA_CONTROLLER_PORT=${ALLSINKS_KAFKA_CONTROLLER_PORT:-29093}
export ALLSINKS_MONGO_PORT=${ALLSINKS_MONGO_PORT:-27028} ALLSINKS_PG_PORT=${ALLSINKS_PG_PORT:-5443}
export ALLSINKS_KEEP_STACK=1
stack_env=(EDGEPIPE_STACK_DIR="$ALLSINKS_STACK_DIR" EDGEPIPE_KAFKA_PORT="$ALLSINKS_KAFKA_PORT"
  EDGEPIPE_KAFKA_CONTROLLER_PORT="$ALLSINKS_KAFKA_CONTROLLER_PORT"
  EDGEPIPE_MONGO_PORT="$ALLSINKS_MONGO_PORT" EDGEPIPE_PG_PORT="$ALLSINKS_PG_PORT")
trap 'env "${stack_env[@]}" scripts/stack.sh down >/dev/null 2>&1' EXIT
bad=0
for i in $(seq 1 "$runs"); do
  seed=$RANDOM
  log=$(mktemp /tmp/allsinks-stress-run.XXXXXX)
  if ALLSINKS_SEED=$seed python3 tests/integration/test_exactly_once_all_sinks.py >"$log" 2>&1; then
    verdict=ok
  else
    verdict=FAIL
    bad=$((bad + 1))
  fi
  tally=$(grep -m1 '^tally:' "$log" | sed 's/^tally: //' || true)
  echo "run $i seed $seed: $verdict: ${tally:-no tally} ($(grep -m1 '^total' "$log" || true);" \
    "$(tail -n 1 "$log")) log $log"
done
echo "$((runs - bad)) of $runs runs passed"
[ "$bad" -eq 0 ]
