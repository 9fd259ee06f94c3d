#!/usr/bin/env bash
# Configures and builds edgepipe in build/ (RelWithDebInfo). Extra args go to cmake.
# Our scripts and CI build with warnings as errors (EDGEPIPE_WERROR); a packager's plain cmake
# does not. ccache is used when installed (several worktrees share one cache).
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$PWD")}
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "${BUILD_DIR:-build}" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DEDGEPIPE_WERROR=ON "${launcher[@]}" "$@" >/dev/null
ninja -C "${BUILD_DIR:-build}"
