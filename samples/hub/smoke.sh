#!/usr/bin/env bash
# Smoke test of samples/hub with curl: an SSE stream and a long poll see
# an event published over HTTP with the token; a publish without it, or on
# a subject that is not one (wildcards, empty tokens, spaces), is refused;
# /metrics counts the stream; SIGINT stops the hub cleanly. Publishing
# off loopback without a token does not start.
bin=$1
. "$(dirname "$0")/../smoke-lib.sh"
rc=0
"$bin" --listen 0.0.0.0:0 --publish --run-for 0.1 >"$dir/open" 2>&1 || rc=$?
expect "--publish on 0.0.0.0 without --token: usage error" "$rc" 2
grep -q "^hub: --publish on 0.0.0.0 needs --token" "$dir/open" ||
  { echo "FAIL the reason"; cat "$dir/open"; exit 1; }
run_sample "$bin" --listen 127.0.0.1:0 --publish --token s3cret --history 1000
wait_ready grep -q "listening on" "$dir/out"
base=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$dir/out")
curl -sN --max-time 3 "$base/sse/news.%3E" >"$dir/sse" &
sse=$!
# The stream is open once /metrics counts it.
for _ in $(seq 100); do
  curl -s "$base/metrics" | grep '^courier_sse_streams_open 1$' >/dev/null && break
  sleep 0.05
done
expect "publish without the token" \
  "$(curl -s -o /dev/null -w '%{http_code}' -d x "$base/publish/news.a")" 401
for subject in 'news%20a' 'news..a' 'news.*' 'news.%3E' '%3E' '*' 'news.'; do
  expect "publish on [$subject] -> 400" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' \
      -d '{"bad":1}' "$base/publish/$subject")" 400
done
expect "long poll on [news%20a] -> 400" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$base/poll/news%20a?timeout=0")" 400
id=$(curl -s -H 'Authorization: Bearer s3cret' \
  -H 'Content-Type: application/json' -d '{"hello":1}' "$base/publish/news.a" |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[ -n "$id" ] || { echo "FAIL publish: no id"; exit 1; }
echo "ok   publish -> $id"
epoch=${id%-*}
expect "long poll from the start" \
  "$(curl -s "$base/poll/news.%3E?since=$epoch-0&timeout=0")" \
  "{\"events\":[{\"data\":{\"hello\":1},\"id\":\"$id\",\"subject\":\"news.a\"}],\"next\":\"$id\"}"
wait "$sse" || true
grep -q "^id: $id$" "$dir/sse" || { echo "FAIL sse: no id line"; cat "$dir/sse"; exit 1; }
grep -q '^event: news.a$' "$dir/sse" && grep -q '^data: {"hello":1}$' "$dir/sse" ||
  { echo "FAIL sse: event"; cat "$dir/sse"; exit 1; }
echo "ok   SSE stream got the event"
kill -INT "$pid"
wait "$pid"
echo "ok   clean exit on SIGINT"
