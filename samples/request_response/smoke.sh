#!/usr/bin/env bash
# Smoke test of samples/request_response: starts it on an ephemeral port,
# checks the README's curl commands, stops it by its pid.
bin=$1
. "$(dirname "$0")/../smoke-lib.sh"
run_sample "$bin" --port 0 --port-file "$dir/port"
wait_ready test -s "$dir/port"
base="http://127.0.0.1:$(cat "$dir/port")"
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
