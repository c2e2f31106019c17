#!/usr/bin/env bash
# Runs the courier and CAF benchmark drivers side by side and prints a table.
#
#   benchmarks/compare.sh <build-dir> [rounds=5] [extra args...]
#
# Runs <build-dir>/benchmarks/courier_bench --runs=1 [extra args...] and
# <build-dir>/benchmarks/caf/caf_bench --runs=1 [extra args...] alternately
# `rounds` times (interleaved, and the driver that goes first alternates too,
# so machine noise hits both), collects their `RESULT <workload> <unit>
# <value>` lines and prints, per workload: courier min/median/max, caf
# min/median/max, and the ratio of the medians, oriented so that > 1 means
# courier is better (units ending in /s: courier/caf; ns/rt and B/actor:
# caf/courier). Without a caf_bench only courier's columns are printed.
#
# Example: benchmarks/compare.sh build 5 --scale=0.5 --only=tell
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 <build-dir> [rounds=5] [extra args...]" >&2
  exit 2
fi
build=$1
shift
rounds=5
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  rounds=$1
  shift
fi
if ((rounds < 1)); then
  echo "$0: rounds must be >= 1" >&2
  exit 2
fi

courier=$build/benchmarks/courier_bench
caf=$build/benchmarks/caf/caf_bench
if [[ ! -x $courier ]]; then
  echo "$0: $courier not found (build the benchmarks first)" >&2
  exit 1
fi
drivers=(courier)
if [[ -x $caf ]]; then
  drivers+=(caf)
else
  echo "$0: $caf not found; printing courier only" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results # lines: <driver> <workload> <unit> <value>
: >"$results"

run_driver() { # <name>
  local name=$1 exe out=$tmp/out
  shift
  if [[ $name == courier ]]; then exe=$courier; else exe=$caf; fi
  if ! "$exe" --runs=1 "$@" >"$out" 2>&1; then
    echo "$0: $exe failed:" >&2
    cat "$out" >&2
    exit 1
  fi
  awk -v d="$name" '$1 == "RESULT" && NF == 4 { print d, $2, $3, $4 }' \
    "$out" >>"$results"
}

for ((r = 1; r <= rounds; ++r)); do
  order=("${drivers[@]}")
  if ((r % 2 == 0 && ${#drivers[@]} == 2)); then
    order=(caf courier)
  fi
  for d in "${order[@]}"; do
    echo "round $r/$rounds: $d" >&2
    run_driver "$d" "${@}"
  done
done

awk -v rounds="$rounds" -v with_caf="$((${#drivers[@]} == 2))" '
  function stats(key,    n, i, j, t, v) {
    n = cnt[key]
    if (n == 0) { smin = smed = smax = ""; return 0 }
    for (i = 1; i <= n; ++i) v[i] = val[key, i] + 0
    for (i = 2; i <= n; ++i) {  # insertion sort
      t = v[i]
      for (j = i - 1; j >= 1 && v[j] > t; --j) v[j + 1] = v[j]
      v[j + 1] = t
    }
    smin = v[1]; smax = v[n]
    smed = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    return n
  }
  function fmt(x) { return x == "" ? "-" : sprintf("%.4g", x) }
  {
    d = $1; w = $2
    if (!(w in unit)) { order[++nw] = w; unit[w] = $3 }
    key = d SUBSEP w
    val[key, ++cnt[key]] = $4
  }
  END {
    printf "\n%d round(s), --runs=1 each, interleaved\n", rounds
    if (with_caf) {
      printf "%-18s %-9s %11s %11s %11s | %11s %11s %11s | %7s\n",
             "workload", "unit", "courier min", "median", "max",
             "caf min", "median", "max", "ratio"
    } else {
      printf "%-18s %-9s %11s %11s %11s\n",
             "workload", "unit", "min", "median", "max"
    }
    for (i = 1; i <= nw; ++i) {
      w = order[i]; u = unit[w]
      stats("courier" SUBSEP w)
      cmin = smin; cmed = smed; cmax = smax
      if (!with_caf) {
        printf "%-18s %-9s %11s %11s %11s\n", w, u, fmt(cmin), fmt(cmed),
               fmt(cmax)
        continue
      }
      stats("caf" SUBSEP w)
      amin = smin; amed = smed; amax = smax
      ratio = "-"
      if (cmed != "" && amed != "") {
        if (u ~ /\/s$/ && amed > 0) {
          ratio = sprintf("%.2f", cmed / amed)
        } else if (u !~ /\/s$/ && cmed > 0) {  # ns/rt, B/actor: lower wins
          ratio = sprintf("%.2f", amed / cmed)
        }
      }
      printf "%-18s %-9s %11s %11s %11s | %11s %11s %11s | %7s\n", w, u,
             fmt(cmin), fmt(cmed), fmt(cmax), fmt(amin), fmt(amed),
             fmt(amax), ratio
    }
  }
' "$results"
