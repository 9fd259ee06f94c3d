#!/usr/bin/env bash
# What a packager does: a plain cmake build (no EDGEPIPE_WERROR, no launcher flags of ours) of
# the edgepipe binary with each distribution compiler and build type. Fails if any combination
# does not build.
#   scripts/build-matrix.sh                       GCC 12 and Clang 16 x Debug, RelWithDebInfo, Release
#   EDGEPIPE_MATRIX="gcc:Release clang:Release" scripts/build-matrix.sh    a subset (CI)
# Build trees go to build-matrix/<compiler>-<type>/.
set -euo pipefail
cd "$(dirname "$0")/.."
matrix=${EDGEPIPE_MATRIX:-"gcc:Debug gcc:RelWithDebInfo gcc:Release clang:Debug clang:RelWithDebInfo clang:Release"}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$PWD")}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
mkdir -p build-matrix
failed=()
for combo in $matrix; do
  compiler=${combo%%:*}
  type=${combo#*:}
  case $compiler in
    gcc) cc=gcc cxx=g++ ;;
    clang) cc=clang-16 cxx=clang++-16 ;;
    *) echo "build-matrix: unknown compiler '$compiler' (gcc or clang)" >&2; exit 2 ;;
  esac
  dir=build-matrix/$compiler-$type
  start=$SECONDS
  if cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DCMAKE_C_COMPILER="$cc" \
       -DCMAKE_CXX_COMPILER="$cxx" -DEDGEPIPE_BUILD_TESTS=OFF -DEDGEPIPE_BUILD_BENCHMARKS=OFF \
       "${launcher[@]}" >"$dir.log" 2>&1 && ninja -C "$dir" edgepipe >>"$dir.log" 2>&1; then
    echo "build-matrix: $compiler $type ok ($((SECONDS - start)) s)"
  else
    echo "build-matrix: $compiler $type FAILED ($dir.log):"; tail -20 "$dir.log"
    failed+=("$combo")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "build-matrix: failed: ${failed[*]}"; exit 1; }
