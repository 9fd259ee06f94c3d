#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) in build-fuzz/ with Clang 16, ASan and UBSan, and runs
# each for FUZZ_SECONDS (default 60) from its seed corpus. Prints per target the executions per
# second and the coverage reached (libFuzzer's cov: edges, ft: features, corp: corpus size).
# Exits non-zero when any target crashes, leaks, times out or runs out of memory; the input that
# did it is kept in build-fuzz/artifacts/<target>/ and its report in build-fuzz/logs/<target>.log.
#   FUZZ_SECONDS=600 scripts/fuzz.sh                  # the long run (tests/fuzz/README.md)
#   FUZZ_TARGETS="fuzz_transform fuzz_config_loader" scripts/fuzz.sh
#   FUZZ_JOBS=2 scripts/fuzz.sh                       # two targets at a time
#   FUZZ_BUILD_TESTS=ON FUZZ_BUILD_ONLY=1 scripts/fuzz.sh   # also build the unit tests with the
#       same Clang 16 + ASan + UBSan flags, and stop after the build (scripts/test.sh runs them)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$PWD")}
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 -DEDGEPIPE_FUZZ=ON \
  -DEDGEPIPE_BUILD_TESTS="${FUZZ_BUILD_TESTS:-OFF}" -DEDGEPIPE_BUILD_BENCHMARKS=OFF \
  -DEDGEPIPE_WERROR=ON "${launcher[@]}" >/dev/null
if [ "${FUZZ_BUILD_TESTS:-OFF}" = ON ]; then
  ninja -C "$build" fuzz_all edgepipe_tests
else
  ninja -C "$build" fuzz_all
fi
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# Symbolized stack traces in the reports: llvm-symbolizer when installed, else binutils' addr2line.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in llvm-symbolizer-16 llvm-symbolizer addr2line; do
    if command -v "$s" >/dev/null 2>&1; then
      export ASAN_SYMBOLIZER_PATH
      ASAN_SYMBOLIZER_PATH=$(command -v "$s")
      break
    fi
  done
fi

targets=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//')}
python3 tests/fuzz/make_seeds.py "$build/seeds"
mkdir -p "$build/logs"

# One target: fuzz for $seconds into a working corpus that starts from the seeds and from the
# inputs that once failed (tests/fuzz/regressions/TARGET, kept in the repository: libFuzzer runs
# each of them first). libFuzzer's own output goes to the log; stderr of the code under test
# (its log lines) is closed.
run_one() {
  local t=$1 corpus=$build/corpus/$1 log=$build/logs/$1.log
  mkdir -p "$corpus" "$build/artifacts/$t"
  local regressions=()
  [ -d "tests/fuzz/regressions/$t" ] && regressions=("tests/fuzz/regressions/$t")
  local rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "$build/tests/fuzz/$t" "$corpus" "$build/seeds/$t" "${regressions[@]}" \
    -max_total_time="$seconds" \
    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" >"$log" 2>&1 || rc=$?
  local last execs
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  execs=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  local cov ft corp
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz: %-22s ok    %6s s  %8s execs/s  cov: %-6s ft: %-6s corp: %s\n' \
      "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  else
    printf 'fuzz: %-22s FAIL  (exit %s) -- %s; input in %s\n' "$t" "$rc" "$log" \
      "$build/artifacts/$t/"
    grep -E 'ERROR: |runtime error|fuzz invariant|SUMMARY' "$log" | head -5 | sed 's/^/  /'
  fi
  return "$rc"
}

failed=0
pids=()
names=()
for t in $targets; do
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (see above)"
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
