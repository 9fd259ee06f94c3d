#!/usr/bin/env bash
# Instructions per record for transform_bench's benchmarks, under callgrind. Wall-clock figures
# on a shared 2-vCPU machine move by 10-30% with whatever else runs; instruction counts do not,
# so this is the way to compare a change to the transform (before/after) on a busy machine.
#
# Each benchmark's body is one pass over its corpus in a `pass_*` function (see
# benchmarks/transform_bench.cpp); callgrind collects only inside those (--toggle-collect) and
# the script divides by the number of passes and by the records of one pass.
#
# usage: perf/callgrind_bench.sh [path/to/transform_bench] [benchmark regex]
#        defaults: build/benchmarks/transform_bench, the CoinGecko rows
# env:   TOP=12 (top functions by self Ir of the first benchmark; 0 = none)  OUT=dir (keep files)
set -euo pipefail

BENCH=${1:-build/benchmarks/transform_bench}
FILTER=${2:-'^BM_(transform|simdjson_[a-z_]+)/coingecko'}
TOP=${TOP:-12}

[[ -x "$BENCH" ]] || { echo "callgrind_bench.sh: $BENCH is not an executable" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "callgrind_bench.sh: valgrind is not installed" >&2; exit 2; }
if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  WORK=$(cd "$OUT" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgepipe-cgbench.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi

names=$("$BENCH" --benchmark_list_tests=true --benchmark_filter="$FILTER" 2>/dev/null | grep '^BM_' || true)
[[ -n "$names" ]] || { echo "callgrind_bench.sh: no benchmark matches '$FILTER'" >&2; exit 2; }

printf '%-44s %14s %8s %12s %10s\n' benchmark "Ir/pass" passes "Ir/record" "Ir/byte"
first=""
i=0
while IFS= read -r name; do
  i=$((i + 1))
  out="$WORK/cg.$i"
  re="^${name}\$"  # benchmark names are [A-Za-z0-9_/]: no regex metacharacters
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='*pass_*' \
    "$BENCH" --benchmark_filter="$re" --benchmark_min_time=0.01 >"$out.stdout" 2>"$out.stderr" || {
    echo "callgrind_bench.sh: $name failed under valgrind" >&2
    tail -n 5 "$out.stderr" >&2
    continue
  }
  [[ -z "$first" ]] && first="$out"
  python3 - "$out" "$out.stderr" "$name" <<'EOF'
import re, sys
path, err, name = sys.argv[1:4]
# Sum the Ir of the collected (pass_*) code and count the calls into pass_* functions.
names, total, calls = {}, 0, 0
cur_cfn = None
for line in open(path, errors="replace"):
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        kind, ident, nm = m.groups()
        if nm:
            names[ident] = nm.strip()
        if kind == "cfn":
            cur_cfn = names.get(ident, "")
        continue
    m = re.match(r"^calls=(\d+)", line)
    if m and cur_cfn is not None and "pass_" in cur_cfn:
        calls += int(m.group(1))
    if line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
# The outermost pass_* call comes from uncollected code, so callgrind records it as a call
# from the benchmark frame; nested pass_* calls do not exist. Count those calls.
corpus, corpus_payloads = {}, {}
for line in open(err, errors="replace"):
    m = re.match(r"corpus (\w+): (\d+) payloads, (\d+) bytes, (\d+) records", line)
    if m:
        corpus[m.group(1)] = (int(m.group(3)), int(m.group(4)))
        corpus_payloads[m.group(1)] = int(m.group(2))
api = next((a for a in corpus if "/" + a in name), None)
if calls == 0 or api is None:
    print(f"{name:44s} {total:14,d} {'?':>8s}")
    sys.exit(0)
bytes_, records = corpus[api]
# The calls into pass_* (counted above) are the passes: only they are collected. Until
# 2026-12-06 this script counted simdjson's stage-1 calls per payload instead, which also
# counted BM_transform's warm-up run outside pass_transform (callgrind records the call arcs of
# uncollected code too): that halved the BM_transform rows (3,874 Ir/record for 7,748).
per_pass = total / calls
print(f"{name:44s} {per_pass:14,.0f} {calls:8d} {per_pass / records:12,.0f} {per_pass / bytes_:10.2f}")
EOF
done <<<"$names"

if [[ "$TOP" != 0 && -n "$first" ]]; then
  echo
  echo "## top $TOP functions by self Ir: $(head -n 1 <<<"$names")"
  callgrind_annotate --inclusive=no --threshold=100 "$first" 2>/dev/null >"$WORK/annotate" || true
  awk '/file:function/ { table = 1; getline; next } table && NF { print }' "$WORK/annotate" |
    head -n "$TOP" | cut -c1-180 || true
fi
[[ -n "${OUT:-}" ]] && echo && echo "profiles kept in $WORK"
exit 0
