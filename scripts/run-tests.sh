#!/usr/bin/env bash
# Installs what is missing, builds courier (library, tests, samples,
# benchmarks) and runs every test with CTest.
#   scripts/run-tests.sh [--sanitize=address|thread|undefined]
#                        [--build-dir=DIR] [-- extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
sanitize=
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize=*) sanitize="${1#*=}" ;;
    --build-dir=*) build="${1#*=}" ;;
    --) shift; break ;;
    *) echo "usage: $0 [--sanitize=KIND] [--build-dir=DIR] [-- ctest args]" >&2
       exit 2 ;;
  esac
  shift
done

scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOURIER_SANITIZE="$sanitize"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure "$@"
