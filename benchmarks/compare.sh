#!/usr/bin/env bash
# Runs the courier and CAF benchmark drivers side by side and prints a table.
#
#   benchmarks/compare.sh [--contend] <build-dir> [rounds=5] [extra args...]
#
# Every run is a fresh process with one workload: for each round and each
# workload, <build-dir>/benchmarks/courier_bench and
# <build-dir>/benchmarks/caf/caf_bench run with --runs=1 --workload=NAME
# [extra args...] one after the other (the driver that goes first alternates
# round by round, so machine noise hits both). --contend keeps one CPU-bound
# process at `nice -n 10` running beside both for the whole run, as another
# program on a shared machine would. The script collects the `RESULT
# <workload> <unit> <value>` lines and prints, per workload: courier
# min/median/max, caf
# min/median/max, and the ratio of the medians, oriented so that > 1 means
# courier is better (units ending in /s: courier/caf; ns/rt and B/actor:
# caf/courier). Without a caf_bench only courier's columns are printed.
#
# Example: benchmarks/compare.sh --contend build 5 --scale=0.5 --only=burst
set -euo pipefail

contend=0
if [[ ${1:-} == --contend ]]; then
  contend=1
  shift
fi

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
hog=
cleanup() {
  if [[ -n $hog ]]; then
    kill "$hog" 2>/dev/null || true
    wait "$hog" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
if ((contend)); then
  nice -n 10 bash -c 'while :; do :; done' &
  hog=$!
  echo "contended: one CPU-bound process (pid $hog) at nice 10" >&2
fi
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

mapfile -t workloads < <("$courier" --list "$@")
if ((${#workloads[@]} == 0)); then
  echo "$0: no workload selected" >&2
  exit 2
fi
for ((r = 1; r <= rounds; ++r)); do
  order=("${drivers[@]}")
  if ((r % 2 == 0 && ${#drivers[@]} == 2)); then
    order=(caf courier)
  fi
  for w in "${workloads[@]}"; do
    for d in "${order[@]}"; do
      echo "round $r/$rounds: $w: $d" >&2
      run_driver "$d" "$@" --workload="$w"
    done
  done
done

awk -v rounds="$rounds" -v contend="$contend" -v with_caf="$((${#drivers[@]} == 2))" '
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
    printf "\n%d round(s), one fresh process per workload and run, interleaved%s\n", rounds, (contend ? ", contended (one nice -n 10 CPU hog)" : ", quiet")
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
