#!/usr/bin/env bash
# The test command (README, CI): install dependencies, build, lint, run every ctest test (unit,
# then integration against the real local stack), then the ring, pipeline and spool-stage tests
# under ThreadSanitizer (GCC), the unit tests under ASan+UBSan built with Clang 16 (the build the
# fuzz targets use, so Clang 16 compiles the whole tree with -Werror there), and the fuzz targets
# for a short run each (scripts/fuzz.sh). EDGEPIPE_SKIP_SANITIZERS=1 skips the sanitizer builds
# and the fuzzing for a quick local run. A packager's plain-cmake Release build with GCC 12 (no
# -Werror: the build type whose optimiser warned before) is checked too; the whole matrix (GCC
# 12 and Clang 16 x Debug, RelWithDebInfo, Release) is scripts/build-matrix.sh, run here with
# EDGEPIPE_MATRIX=all, a subset with EDGEPIPE_MATRIX="clang:Debug gcc:Release", none with
# EDGEPIPE_MATRIX=none.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# clang-format and clang-tidy on the files the change touches (scripts/lint.sh --all: the tree).
scripts/lint.sh
matrix=${EDGEPIPE_MATRIX:-gcc:Release}
if [ "$matrix" != none ]; then
  if [ "$matrix" = all ]; then
    env -u EDGEPIPE_MATRIX scripts/build-matrix.sh
  else
    EDGEPIPE_MATRIX=$matrix scripts/build-matrix.sh
  fi
fi

# The integration tests talk to real Kafka and MongoDB-compatible servers on 127.0.0.1; they
# are stopped again however the tests end.
scripts/stack.sh up
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
ctest --test-dir build --output-on-failure -j2 --timeout 600 -LE integration
ctest --test-dir build --output-on-failure --timeout 600 -L integration --no-tests=ignore

if [ "${EDGEPIPE_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== ThreadSanitizer: rings, pipeline, spool stage, status document"
  BUILD_DIR=build-tsan BUILD_TYPE=Debug scripts/build.sh -DEDGEPIPE_SANITIZE=thread \
    -DEDGEPIPE_BUILD_BENCHMARKS=OFF
  TSAN_OPTIONS="halt_on_error=1" build-tsan/tests/edgepipe_tests \
    --gtest_filter='SpscRing*:RingEdge*:Pipeline*:SpoolStage*:SpoolMemoryTail*:Status*:DeliveryTracker*'
  echo "== Clang 16, AddressSanitizer + UndefinedBehaviorSanitizer: unit tests"
  FUZZ_BUILD_TESTS=ON FUZZ_BUILD_ONLY=1 scripts/fuzz.sh
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    build-fuzz/tests/edgepipe_tests
  # libFuzzer targets (tests/fuzz, Clang 16, ASan+UBSan): a short run of each, two at a time;
  # tests/fuzz/README.md has the long-run command.
  echo "== libFuzzer: ${FUZZ_SECONDS:-40} s per target"
  FUZZ_BUILD_TESTS=ON FUZZ_SECONDS=${FUZZ_SECONDS:-40} FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh
fi
