#!/usr/bin/env bash
# Builds courier_scaling (Release, in build-scaling/) and runs it: aggregate
# message throughput from 1 to 16 loops (see benchmarks/scaling.cpp).
#
#   benchmarks/scaling.sh [courier_scaling options...]
#   OUT=/some/dir benchmarks/scaling.sh --loops 1,2,4,8,16 --runs 3
#
# Needs only what the build needs (g++, cmake, pkg-config, libuv1-dev,
# libconcurrentqueue-dev); installs nothing and uses no network. Writes the
# run's output to "${OUT:-.}/scaling.txt" and the build's to
# "${OUT:-.}/scaling-build.log" (OUT relative to the current directory).
# With defaults the run takes about a minute on 16 cores.
set -euo pipefail

out_dir=${OUT:-.}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
cd "$(dirname "$0")/.."

build="build-scaling"
jobs=$(nproc)
log=$out_dir/scaling-build.log

echo "configuring and building courier_scaling in $build/ (log: $log)" >&2
{
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCOURIER_BUILD_TESTS=OFF -DCOURIER_BUILD_SAMPLES=OFF \
    -DCOURIER_BUILD_BENCHMARKS=ON -DCOURIER_SANITIZE=
  cmake --build "$build" -j"$jobs" --target courier_scaling
} >"$log" 2>&1 || {
  echo "$0: the build failed; the end of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}

{
  echo "== courier scaling benchmark"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(uname -srm)"
  if rev=$(git rev-parse --short HEAD 2>/dev/null); then
    dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
    echo "commit: $rev ($dirty modified tracked files)"
  fi
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  echo "compiler: $("${cxx:-c++}" --version 2>/dev/null | head -n 1)"
  if command -v lscpu >/dev/null; then
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|NUMA node\(s\)|CPU max MHz):' || true
  fi
  echo "nproc: $(nproc)"
  echo "command: $build/benchmarks/courier_scaling $*"
  echo
} | tee "$out_dir/scaling.txt"

"$build/benchmarks/courier_scaling" "$@" 2>&1 | tee -a "$out_dir/scaling.txt"
