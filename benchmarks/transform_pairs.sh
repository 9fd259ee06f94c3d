#!/usr/bin/env bash
# The transform against simdjson's DOM parse of the same CoinGecko bytes, as alternating pairs of
# separate runs of transform_bench (each the median of 3 repetitions), so that a change in the
# guest's speed between minutes hits both sides of a pair alike. Prints each pair's speed ratio
# (DOM time / transform time: > 1 means the transform is faster) and their median and range.
#   benchmarks/transform_pairs.sh [path/to/transform_bench] [pairs]   (defaults: build/..., 8)
set -euo pipefail
exe=${1:-build/benchmarks/transform_bench}
n=${2:-8}
[[ -x "$exe" ]] || { echo "transform_pairs.sh: $exe is not built (ninja -C build transform_bench)" >&2; exit 2; }
one() {
  "$exe" --benchmark_filter="^$1/coingecko\$" --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 2>/dev/null |
    awk '/_median/ {print $4}'
}
ratios=()
for i in $(seq "$n"); do
  if ((i % 2)); then
    t=$(one BM_transform); d=$(one BM_simdjson_dom_parse)
  else
    d=$(one BM_simdjson_dom_parse); t=$(one BM_transform)
  fi
  x=$(python3 -c "print(f'{$d / $t:.3f}')")
  ratios+=("$x")
  echo "pair $i: transform $t ms, DOM $d ms, speed vs DOM $x"
done
printf '%s\n' "${ratios[@]}" | sort -n |
  awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
       print "median speed vs DOM:", m, "min", a[1], "max", a[NR]}'
