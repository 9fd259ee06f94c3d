#!/usr/bin/env bash
# clang-format and clang-tidy on the C++ files a change touches (.clang-format, .clang-tidy at the
# root). Fails on any formatting difference or clang-tidy warning.
#   scripts/lint.sh              files changed in the last 24 hours of commits + uncommitted
#   scripts/lint.sh --all        every C++ file of the tree
#   EDGEPIPE_LINT_BASE=REV scripts/lint.sh    files changed since REV
# clang-tidy needs build/compile_commands.json (scripts/build.sh writes it); BUILD_DIR overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
format=$(command -v clang-format || true)
tidy=$(command -v clang-tidy-16 || command -v clang-tidy || true)
[ -n "$format" ] || { echo "lint: clang-format is not installed (scripts/install-deps.sh)" >&2; exit 1; }
[ -n "$tidy" ] || { echo "lint: clang-tidy is not installed (scripts/install-deps.sh)" >&2; exit 1; }

if [ "${1:-}" = "--all" ]; then
  files=$(git ls-files '*.cpp' '*.hpp')
else
  base=${EDGEPIPE_LINT_BASE:-$(git rev-list -1 --before='24 hours ago' HEAD 2>/dev/null || true)}
  [ -n "$base" ] || base=$(git rev-list --max-parents=0 HEAD | tail -n 1)
  files=$( { git diff --name-only --diff-filter=d "$base" -- '*.cpp' '*.hpp'; \
             git ls-files --others --exclude-standard -- '*.cpp' '*.hpp'; } | sort -u)
fi
[ -n "$files" ] || { echo "lint: no C++ file changed"; exit 0; }
count=$(echo "$files" | wc -l)

bad=0
unformatted=$(echo "$files" | while read -r f; do
  [ -f "$f" ] && ! "$format" --dry-run -Werror "$f" >/dev/null 2>&1 && echo "$f"; done || true)
if [ -n "$unformatted" ]; then
  echo "lint: not clang-formatted (run clang-format -i on them):"; echo "$unformatted" | sed 's/^/  /'
  bad=1
fi

# clang-tidy reads compile flags from the build; only sources of the product and the tests have
# them (headers are checked through the sources that include them).
sources=$(echo "$files" | grep -E '^(core|io|config|stages|app|platform|tests)/.*\.cpp$' |
  grep -v '^tests/fuzz/' || true)
if [ -n "$sources" ]; then
  [ -f "$build/compile_commands.json" ] || { echo "lint: $build/compile_commands.json missing: run scripts/build.sh" >&2; exit 1; }
  out=$(echo "$sources" | xargs -r -n8 -P2 "$tidy" -p "$build" --quiet --warnings-as-errors='*' 2>/dev/null || true)
  if echo "$out" | grep -q 'error:\|warning:'; then
    echo "$out" | grep -A3 'error:\|warning:' | head -80
    echo "lint: clang-tidy found the above"
    bad=1
  fi
fi
[ $bad -eq 0 ] && echo "lint: $count file(s) clean (clang-format, clang-tidy)"
exit $bad
