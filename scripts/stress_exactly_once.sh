#!/usr/bin/env bash
# Runs an exactly-once outage-and-kill test N times (default 10) with random kill points against
# one private stack (scripts/stack.sh with its own data dir and ports: never the shared stack),
# then takes that stack down. Prints one line per run and a tally; exits non-zero if any run
# failed.
#   scripts/stress_exactly_once.sh [RUNS]              tests/integration/test_exactly_once.py:
#       one Kafka sink; EOS_SEED random per run picks the kill point. Stack: Kafka 19092/19093,
#       FerretDB 27018, PostgreSQL 5433, data in /tmp/edgepipe-eos-stress (EOS_* env overrides).
#   scripts/stress_exactly_once.sh --all-sinks [RUNS]  tests/integration/test_exactly_once_all_sinks.py:
#       Kafka, MongoDB and a file at once; ALLSINKS_SEED random per run picks where in Kafka's
#       drain the first kill -9 lands and how many of trace B's records the second one waits
#       for. Stack: Kafka 29092/29093, FerretDB 27028, PostgreSQL 5443, data in
#       /tmp/edgepipe-allsinks-stress (ALLSINKS_* env overrides).
# Env: EDGEPIPE_BINARY (as for the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=kafka
if [ "${1:-}" = "--all-sinks" ]; then
  mode=all-sinks
  shift
fi
runs=${1:-10}
if [ "$mode" = kafka ]; then
  prefix=EOS test=tests/integration/test_exactly_once.py
  defaults=(/tmp/edgepipe-eos-stress 19092 19093 27018 5433)
else
  prefix=ALLSINKS test=tests/integration/test_exactly_once_all_sinks.py
  defaults=(/tmp/edgepipe-allsinks-stress 29092 29093 27028 5443)
fi
# The test reads <PREFIX>_STACK_DIR, _KAFKA_PORT, _KAFKA_CONTROLLER_PORT, _MONGO_PORT, _PG_PORT,
# _KEEP_STACK and _SEED; scripts/stack.sh the same values under EDGEPIPE_* names.
names=(STACK_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT MONGO_PORT PG_PORT)
stack_env=()
for k in "${!names[@]}"; do
  var=${prefix}_${names[$k]}
  export "$var=${!var:-${defaults[$k]}}"
  stack_env+=("EDGEPIPE_${names[$k]}=${!var}")
done
export "${prefix}_KEEP_STACK=1"
trap 'env "${stack_env[@]}" scripts/stack.sh down >/dev/null 2>&1' EXIT
bad=0
for i in $(seq 1 "$runs"); do
  seed=$RANDOM
  log=$(mktemp "/tmp/${mode}-stress-run.XXXXXX")
  if env "${prefix}_SEED=$seed" python3 "$test" >"$log" 2>&1; then
    verdict=ok
  else
    verdict=FAIL
    bad=$((bad + 1))
  fi
  if [ "$mode" = kafka ]; then
    tally=$(grep -E 'read_committed: (all|no dup)' "$log" | sed 's/^ok *//;s/^FAIL *//' | tr '\n' ';' || true)
  else
    tally=$(grep -m1 '^tally:' "$log" | sed 's/^tally: //' || true)
  fi
  echo "run $i seed $seed: $verdict: ${tally:-no tally} ($(grep -m1 '^total' "$log" || true);" \
    "$(tail -n 1 "$log")) log $log"
done
echo "$((runs - bad)) of $runs runs passed"
[ "$bad" -eq 0 ]
