#!/usr/bin/env bash
# The NATS bridge beside raw cnats, on one nats-server (127.0.0.1, a free
# port), in the same run: events/s and latency p50/p99 from A's router
# through NATS to B's subscriber, and raw cnats publish -> subscribe.
#   benchmarks/nats.sh [build-dir] [events]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
events=${2:-100000}
cmake --build "$build" --target courier_nats_bench >/dev/null
dir=$(mktemp -d)
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 20); do
  port=$((20000 + RANDOM % 12000))
  up "$port" || break
done
nats-server -a 127.0.0.1 -p "$port" >"$dir/nats.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do up "$port" && break; sleep 0.1; done
timeout 300 "$build/benchmarks/courier_nats_bench" --url "nats://127.0.0.1:$port" --events "$events"
