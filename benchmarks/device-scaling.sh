#!/usr/bin/env bash
# Runs the loop-scaling benchmark from a self-contained bundle built on a
# Debian 12 machine (the binary with its own loader and shared libraries),
# for a machine that has no build dependencies:
#   cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release \
#         -DCOURIER_BUILD_TESTS=OFF -DCOURIER_BUILD_SAMPLES=OFF
#   cmake --build build-device --target courier_scaling
#   benchmarks/device-scaling.sh --bundle      # makes build-device/pkg
#   benchmarks/device-scaling.sh [args...]     # runs it, output in $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=build-device/pkg
if [[ "${1:-}" == "--bundle" ]]; then
  mkdir -p "$pkg/lib"
  cp build-device/benchmarks/courier_scaling "$pkg/"
  for l in $(ldd "$pkg/courier_scaling" | awk '/=>/{print $3} /ld-linux/{print $1}'); do
    cp -L "$l" "$pkg/lib/"
  done
  exit 0
fi
out="${OUT:-.}"
{
  echo "date: $(date -u)"
  echo "host: $(uname -srm)"
  echo "nproc: $(nproc)"
  lscpu 2>/dev/null | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|NUMA node\(s\)' || true
  echo
  "$pkg/lib/ld-linux-x86-64.so.2" --library-path "$pkg/lib" \
    "$pkg/courier_scaling" "$@"
} 2>&1 | tee "$out/scaling.txt"
