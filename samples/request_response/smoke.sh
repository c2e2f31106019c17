#!/usr/bin/env bash
# Smoke test of samples/request_response: starts it on an ephemeral port,
# checks the README's curl commands, stops it by its pid.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" --port 0 --port-file "$dir/port" >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -s "$dir/port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/out"; exit 1; }
  sleep 0.1
done
port=$(cat "$dir/port")
base="http://127.0.0.1:$port"
expect() { # <what> <got> <want>
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got [$2], want [$3]"
    exit 1
  fi
  echo "ok   $1"
}
expect "POST /orders" \
  "$(curl -s -X POST "$base/orders" -d '{"item": "widget", "quantity": 3}')" \
  '{"id":123,"item":"widget","quantity":3,"status":"created"}'
expect "GET /order?id=123" "$(curl -s "$base/order?id=123")" \
  '{"id":123,"item":"widget","quantity":3,"status":"created"}'
expect "GET /orders/123" "$(curl -s -o /dev/null -w '%{http_code}' "$base/orders/123")" 200
expect "GET /orders/999" "$(curl -s -o /dev/null -w '%{http_code}' "$base/orders/999")" 404
expect "POST bad JSON" \
  "$(curl -s -X POST "$base/orders" -d '{"item": "widget"}')" \
  '{"error":{"message":"\"quantity\" (an integer >= 1) is missing","reason":"Bad Request","status":400}}'
kill -INT "$pid"
wait "$pid"
echo "ok   clean exit on SIGINT"
