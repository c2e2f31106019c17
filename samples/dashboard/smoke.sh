#!/usr/bin/env bash
# Smoke test of samples/dashboard with curl: REST (201, 400 naming the
# field, item names that make no subject token refused), the page, an SSE
# stream that sees a new order, a report job followed by long polling from
# the cursor of its 202, a webhook to a loopback address refused,
# analytics, inventory, /metrics, no admin routes without a token, then a
# clean exit on SIGINT. A second run with --token and
# --allow-private-callbacks checks the admin route's token and a webhook
# delivered; a third, the exit on --run-for.
bin=$1
. "$(dirname "$0")/../smoke-lib.sh"
run_sample "$bin" --port 0 --port-file "$dir/port" --simulate 0
wait_ready test -s "$dir/port"
port=$(cat "$dir/port")
base="http://127.0.0.1:$port"
expect_match() { # <what> <got> <extended regex>
  if ! [[ $2 =~ $3 ]]; then
    echo "FAIL $1: got [$2], want /$3/"
    exit 1
  fi
  echo "ok   $1"
}
grep -q "^dashboard at http://127.0.0.1:$port/$" "$dir/out" ||
  { echo "FAIL banner"; cat "$dir/out"; exit 1; }

# REST on the orders actor.
expect "POST /orders -> 201" \
  "$(curl -s -D "$dir/head" -X POST "$base/orders" -d '{"item": "widget", "quantity": 3}')" \
  '{"id":1,"item":"widget","quantity":3,"status":"created"}'
expect_match "201 and Location" "$(tr -d '\r' <"$dir/head")" \
  $'^HTTP/1.1 201 .*\nLocation: /orders/1\n'
expect "POST bad JSON -> 400" \
  "$(curl -s -w ' %{http_code}' -X POST "$base/orders" -d '{"item": ')" \
  '{"error":{"message":"the body is not valid JSON","reason":"Bad Request","status":400}} 400'
expect "POST without quantity -> 400 naming it" \
  "$(curl -s -X POST "$base/orders" -d '{"item": "widget"}')" \
  '{"error":{"message":"\"quantity\" is missing","reason":"Bad Request","status":400}}'
expect "POST with a bad item -> 400 naming it" \
  "$(curl -s -X POST "$base/orders" -d '{"item": 7, "quantity": 1}')" \
  '{"error":{"message":"\"item\" must be a non-empty string","reason":"Bad Request","status":400}}'
# An item becomes the subject token of "inventory.{item}".
for item in 'a b' 'x..y' '>' '*' 'a.b' 'a.>'; do
  expect "POST with the item [$item] -> 400" \
    "$(curl -s -w ' %{http_code}' -X POST "$base/orders" -d "{\"item\": \"$item\", \"quantity\": 1}")" \
    "{\"error\":{\"message\":\"\\\"item\\\" must be 1 to 64 letters, digits, '-' or '_'\",\"reason\":\"Bad Request\",\"status\":400}} 400"
done
expect "GET /orders/1" "$(curl -s "$base/orders/1")" \
  '{"id":1,"item":"widget","quantity":3,"status":"created"}'
expect "GET /orders/999 -> 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$base/orders/999")" 404
expect_match "GET / serves the page" "$(curl -s "$base/")" \
  "new EventSource\\('/sse/orders.>'"

# SSE: a stream opened before a POST sees the order.
curl -sN --max-time 3 "$base/sse/orders.%3E" >"$dir/sse" &
sse=$!
for _ in $(seq 100); do
  [[ $(curl -s "$base/metrics") =~ $'\ncourier_sse_streams_open 1\n' ]] && break
  sleep 0.05
done
curl -s -o /dev/null -X POST "$base/orders" -d '{"item": "gadget", "quantity": 2}'
wait "$sse" || true
grep -q '^event: orders.created$' "$dir/sse" &&
  grep -q '^data: {"id":2,"item":"gadget","quantity":2,"status":"created"}$' "$dir/sse" ||
  { echo "FAIL sse"; cat "$dir/sse"; exit 1; }
echo "ok   SSE stream got orders.created"

# An async job: 202 + Location at once, the result by long polling from
# the cursor in the 202. Its webhook names our own address: refused, by
# default, after name resolution (localhost too), and recorded in the job.
ticket=$(curl -s -D "$dir/head" -X POST "$base/reports" \
  -d "{\"kind\": \"sales\", \"callback\": \"$base/orders\"}")
expect_match "POST /reports -> 202" "$(tr -d '\r' <"$dir/head")" \
  $'^HTTP/1.1 202 .*\nLocation: /reports/1\n'
since=$(sed -n 's/^{"job":1,"since":"\([^"]*\)"}$/\1/p' <<<"$ticket")
[ -n "$since" ] || { echo "FAIL ticket [$ticket]"; exit 1; }
done=""
for _ in $(seq 10); do
  answer=$(curl -s "$base/poll/jobs.1?since=$since&timeout=10")
  grep -q '"status":"done"' <<<"$answer" && { done=$answer; break; }
  since=$(sed -n 's/.*"next":"\([^"]*\)".*/\1/p' <<<"$answer")
done
expect_match "long poll /poll/jobs.1 gets the result" "$done" \
  '"data":\{"callback":\{"url":"[^"]*"\},"job":1,"kind":"sales","result":\{"by_item":\{"gadget":\{"orders":1,"quantity":2\},"widget":\{"orders":1,"quantity":3\}\},"orders":2,"quantity":5,"shipped":[0-2],"took_ms":[0-9]+,"top_item":"widget"\},"status":"done","worker":[1-3]\}'
# Waits (10 s at most) until job $1 notes its webhook's outcome.
webhook_outcome() {
  for _ in $(seq 100); do
    job=$(curl -s "$base/reports/$1")
    grep -q '"callback":{"\(status\|error\)"' <<<"$job" && break
    sleep 0.1
  done
  echo "$job"
}
expect_match "GET /reports/1: done, webhook to 127.0.0.1 refused" \
  "$(webhook_outcome 1)" \
  '^\{"callback":\{"error":"address denied: 127\.0\.0\.1, not a public address","url":"[^"]*/orders"\},"job":1,.*"status":"done"'
curl -s -o /dev/null -X POST "$base/reports" \
  -d "{\"callback\": \"http://localhost:$port/admin/drop-streams\"}"
expect_match "GET /reports/2: webhook to localhost refused" \
  "$(webhook_outcome 2)" \
  '^\{"callback":\{"error":"address denied: localhost resolves to (127\.0\.0\.1|::1), not a public address",'
expect "GET /reports/9 -> 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$base/reports/9")" 404
expect "POST /reports with a bad kind -> 400" \
  "$(curl -s -X POST "$base/reports" -d '{"kind": "taxes"}')" \
  '{"error":{"message":"\"kind\" must be \"sales\"","reason":"Bad Request","status":400}}'

# The subscribers, the poller and the edge's own routes.
expect_match "GET /analytics" "$(curl -s "$base/analytics")" \
  '^\{"items":\{"gadget":\{"orders":1,"quantity":2\},"widget":\{"orders":1,"quantity":3\}\},"last_minute":\[[0-9,]+\],"orders":2,"orders_per_second":[0-9.]+,"shipped":[0-2]\}$'
expect_match "GET /emails" "$(curl -s "$base/emails")" '"sent":[2-4]'
expect_match "GET /inventory" "$(curl -s "$base/inventory")" \
  '^\{"doohickey":[0-9]+,"gadget":[0-9]+,"gizmo":[0-9]+,"sprocket":[0-9]+,"widget":[0-9]+\}$'
metrics=$(curl -s "$base/metrics")
expect_match "/metrics has the router" "$metrics" \
  $'\ncourier_router_subject_published_total\\{router="default",subject="orders.created"\\} 2\n'
expect_match "/metrics has the poller" "$metrics" \
  $'\ncourier_poller_polls_total\\{poller="inventory"\\} [0-9]+\n'
for line in 'dashboard_actor_failures_total{actor="inventory"} 0' \
  'dashboard_actor_restarts_total{actor="inventory"} 0' \
  'dashboard_actor_given_up{actor="inventory"} 0' \
  'dashboard_inventory_invalid_subjects_total 0'; do
  grep -qxF "$line" <<<"$metrics" || { echo "FAIL /metrics lacks [$line]"; exit 1; }
  echo "ok   /metrics has $line"
done
expect "/healthz" "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" 200
grep -q "^admin routes: off" "$dir/out" || { echo "FAIL admin banner"; cat "$dir/out"; exit 1; }
expect "POST /admin/drop-streams without --token -> 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/admin/drop-streams")" 404

kill -INT "$pid"
wait "$pid"
echo "ok   clean exit on SIGINT"

# With a token the admin routes need it; with --allow-private-callbacks
# the webhook reaches our own /orders, which refuses the job's JSON (400).
rm -f "$dir/port"
run_sample "$bin" --port 0 --port-file "$dir/port" --simulate 0 \
  --token s3cret --allow-private-callbacks
wait_ready test -s "$dir/port"
port=$(cat "$dir/port")
base="http://127.0.0.1:$port"
expect "POST /admin/drop-streams without the token -> 401" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/admin/drop-streams")" 401
expect "POST /admin/drop-streams with a wrong token -> 401" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cre' \
    -X POST "$base/admin/drop-streams")" 401
expect "POST /admin/drop-streams with the token -> 202" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' \
    -X POST "$base/admin/drop-streams")" 202
curl -s -o /dev/null -X POST "$base/reports" -d "{\"callback\": \"$base/orders\"}"
expect_match "GET /reports/1: webhook called" "$(webhook_outcome 1)" \
  '^\{"callback":\{"status":400,"url":"[^"]*/orders"\},"job":1,.*"status":"done"'
kill -INT "$pid"
wait "$pid"
echo "ok   clean exit on SIGINT"
"$bin" --port 0 --run-for 1 >"$dir/out" 2>&1
echo "ok   clean exit after --run-for 1"
