#!/usr/bin/env bash
# Installs what is missing, builds courier and runs a sample (default: the
# flagship sample).   scripts/run-sample.sh [name] [sample arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-dashboard}"
shift || true
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target "$name"
exec "build/samples/$name/$name" "$@"
