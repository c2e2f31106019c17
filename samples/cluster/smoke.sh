#!/usr/bin/env bash
# Smoke test of samples/cluster: a real nats-server on a free port, an
# "orders" process and a "dashboard" process; an order POSTed to the first
# reaches an SSE client (curl -N) and a long poll of the second through
# NATS. Everything it starts is stopped by pid.
set -euo pipefail
bin=$1
command -v nats-server >/dev/null || { echo "nats-server is not installed"; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# nats-server on a free port (retried if another process takes it).
for _ in $(seq 20); do
  nport=$((20000 + RANDOM % 12000))
  up "$nport" && continue
  nats-server -a 127.0.0.1 -p "$nport" >"$dir/nats.log" 2>&1 &
  npid=$!
  for _ in $(seq 50); do up "$nport" && break; sleep 0.1; done
  if up "$nport" && kill -0 "$npid" 2>/dev/null; then
    pids+=("$npid")
    break
  fi
  kill "$npid" 2>/dev/null || true
done
up "$nport" || { echo "FAIL: nats-server did not start"; cat "$dir/nats.log"; exit 1; }
url="nats://127.0.0.1:$nport"

"$bin" --role orders --nats "$url" --port 0 --port-file "$dir/a" >"$dir/a.out" 2>&1 &
pids+=($!)
"$bin" --role dashboard --nats "$url" --port 0 --port-file "$dir/b" >"$dir/b.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/a" ] && [ -s "$dir/b" ] && break; sleep 0.1; done
a="http://127.0.0.1:$(cat "$dir/a")"
b="http://127.0.0.1:$(cat "$dir/b")"
# grep without -q reads to the end: with pipefail, a grep that quits early
# fails the pipeline through curl's EPIPE.
connected() { curl -s "$1/metrics" | grep '^courier_nats_connected 1$' >/dev/null; }
for _ in $(seq 100); do connected "$a" && connected "$b" && break; sleep 0.1; done
connected "$a" && connected "$b" || { echo "FAIL: bridges not connected"; exit 1; }
echo "ok   both bridges connected to $url"

epoch_id=$(curl -s "$b/poll/orders.%3E?timeout=0" | sed -n 's/.*"next":"\([^"]*\)".*/\1/p')
curl -sN --max-time 4 "$b/sse/orders.%3E" >"$dir/sse" &
sse=$!
for _ in $(seq 100); do
  curl -s "$b/metrics" | grep '^courier_sse_streams_open 1$' >/dev/null && break
  sleep 0.05
done
# Publish in process A until process B's stream shows an order.
for i in $(seq 30); do
  curl -s -d "{\"item\":\"widget\",\"quantity\":$i}" "$a/orders" >/dev/null
  grep -q '^event: orders.created$' "$dir/sse" && break
  sleep 0.1
done
wait "$sse" || true
grep -q '^event: orders.created$' "$dir/sse" && grep -q '"item":"widget"' "$dir/sse" ||
  { echo "FAIL: no order reached B's SSE stream"; cat "$dir/sse"; exit 1; }
echo "ok   an order from process A reached an SSE client of process B"
poll=$(curl -s "$b/poll/orders.%3E?since=$epoch_id&timeout=2")
echo "$poll" | grep -q '"subject":"orders.created"' ||
  { echo "FAIL: long poll in B: $poll"; exit 1; }
echo "ok   and a long poll of process B"
curl -s "$b/metrics" | grep '^courier_nats_imported_total [1-9]' >/dev/null ||
  { echo "FAIL: B imported nothing"; exit 1; }
echo "ok   B counts the imported events"
