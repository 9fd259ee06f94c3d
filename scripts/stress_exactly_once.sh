#!/usr/bin/env bash
# Runs tests/integration/test_exactly_once.py N times (default 10) with random kill points
# (EOS_SEED random per run) against one private Kafka (scripts/stack.sh on 19092/19093, mongo
# 27018, postgres 5433, data in /tmp/edgepipe-eos-stress: never the shared stack), then takes it
# down. Prints one line per run and a summary; exits non-zero if any run failed.
#   scripts/stress_exactly_once.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export EOS_STACK_DIR=${EOS_STACK_DIR:-/tmp/edgepipe-eos-stress}
export EOS_KAFKA_PORT=${EOS_KAFKA_PORT:-19092} EOS_KAFKA_CONTROLLER_PORT=${EOS_KAFKA_CONTROLLER_PORT:-19093}
export EOS_MONGO_PORT=${EOS_MONGO_PORT:-27018} EOS_PG_PORT=${EOS_PG_PORT:-5433}
export EOS_KEEP_STACK=1
stack_env=(EDGEPIPE_STACK_DIR="$EOS_STACK_DIR" EDGEPIPE_KAFKA_PORT="$EOS_KAFKA_PORT"
  EDGEPIPE_KAFKA_CONTROLLER_PORT="$EOS_KAFKA_CONTROLLER_PORT" EDGEPIPE_MONGO_PORT="$EOS_MONGO_PORT"
  EDGEPIPE_PG_PORT="$EOS_PG_PORT")
trap 'env "${stack_env[@]}" scripts/stack.sh down >/dev/null' EXIT
bad=0
for i in $(seq 1 "$runs"); do
  seed=$RANDOM
  log=$(mktemp /tmp/eos-stress-run.XXXXXX)
  if EOS_SEED=$seed python3 tests/integration/test_exactly_once.py >"$log" 2>&1; then
    verdict=ok
  else
    verdict=FAIL
    bad=$((bad + 1))
  fi
  echo "run $i seed $seed: $verdict: $(grep -E 'read_committed: (all|no dup)' "$log" | sed 's/^ok *//;s/^FAIL *//' | tr '\n' ';') $(tail -n 1 "$log") (log $log)"
done
echo "$((runs - bad)) of $runs runs passed"
[ "$bad" -eq 0 ]
