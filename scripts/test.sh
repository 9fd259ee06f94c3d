#!/usr/bin/env bash
# The test command (README, CI): install dependencies, build, run every ctest test, then the
# ring, pipeline and spool-stage tests under ThreadSanitizer, the unit tests under ASan+UBSan and
# the fuzz targets for a short run each (scripts/fuzz.sh). EDGEPIPE_SKIP_SANITIZERS=1 skips the
# sanitizer builds and the fuzzing for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# clang-format and clang-tidy on the files the change touches (scripts/lint.sh --all: the tree).
scripts/lint.sh
# A packager's plain cmake (no -Werror) with both distribution compilers, Release; the full
# matrix (Debug, RelWithDebInfo, Release x GCC 12, Clang 16) is scripts/build-matrix.sh.
EDGEPIPE_MATRIX="${EDGEPIPE_MATRIX:-gcc:Release clang:Release}" scripts/build-matrix.sh

# The integration tests talk to real Kafka and MongoDB-compatible servers on 127.0.0.1; they
# are stopped again however the tests end.
scripts/stack.sh up
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
ctest --test-dir build --output-on-failure -j2 --timeout 600 -LE integration
ctest --test-dir build --output-on-failure --timeout 600 -L integration --no-tests=ignore

if [ "${EDGEPIPE_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== ThreadSanitizer: rings and pipeline"
  BUILD_DIR=build-tsan BUILD_TYPE=Debug scripts/build.sh -DEDGEPIPE_SANITIZE=thread \
    -DEDGEPIPE_BUILD_BENCHMARKS=OFF
  TSAN_OPTIONS="halt_on_error=1" build-tsan/tests/edgepipe_tests \
    --gtest_filter='SpscRing*:RingEdge*:Pipeline*:SpoolStage*:SpoolMemoryTail*'
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: unit tests"
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh \
    "-DEDGEPIPE_SANITIZE=address;undefined" -DEDGEPIPE_BUILD_BENCHMARKS=OFF
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    build-asan/tests/edgepipe_tests
  # libFuzzer targets (tests/fuzz, Clang 16, ASan+UBSan): a short run of each, two at a time;
  # tests/fuzz/README.md has the long-run command.
  echo "== libFuzzer: ${FUZZ_SECONDS:-40} s per target"
  FUZZ_SECONDS=${FUZZ_SECONDS:-40} FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh
fi
