#!/usr/bin/env bash
# clang-format and clang-tidy (.clang-format, .clang-tidy at the root). Fails on any formatting
# difference or clang-tidy warning. clang-format is fast and always checks every C++ file;
# clang-tidy takes ~5 s per file here, so by default it checks the files a change touches.
#   scripts/lint.sh              clang-tidy on the files the last commit changed + uncommitted
#                                (what CI runs: the same answer for the same commit, any day)
#   scripts/lint.sh --all        clang-tidy on every C++ file of the tree (before a submission)
#   EDGEPIPE_LINT_BASE=REV scripts/lint.sh    clang-tidy on the files changed since REV
# clang-tidy needs build/compile_commands.json (scripts/build.sh writes it); BUILD_DIR overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
format=$(command -v clang-format || true)
tidy=$(command -v clang-tidy-16 || command -v clang-tidy || true)
[ -n "$format" ] || { echo "lint: clang-format is not installed (scripts/install-deps.sh)" >&2; exit 1; }
[ -n "$tidy" ] || { echo "lint: clang-tidy is not installed (scripts/install-deps.sh)" >&2; exit 1; }

all_files=$( { git ls-files '*.cpp' '*.hpp'; \
               git ls-files --others --exclude-standard -- '*.cpp' '*.hpp'; } | sort -u)
if [ "${1:-}" = "--all" ]; then
  files=$all_files
else
  base=${EDGEPIPE_LINT_BASE:-$(git rev-parse -q --verify HEAD~1 || git rev-list --max-parents=0 HEAD | tail -n 1)}
  files=$( { git diff --name-only --diff-filter=d "$base" -- '*.cpp' '*.hpp'; \
             git ls-files --others --exclude-standard -- '*.cpp' '*.hpp'; } | sort -u)
fi
count=$(echo "$all_files" | wc -l)

bad=0
unformatted=$(echo "$all_files" | while read -r f; do
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
tidied=$(echo "$sources" | grep -c . || true)
[ $bad -eq 0 ] && echo "lint: $count file(s) clang-formatted, $tidied source(s) clean under clang-tidy"
exit $bad
