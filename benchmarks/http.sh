#!/usr/bin/env bash
# The HTTP edge against nginx, with wrk, side by side in one run:
#   nginx, 1 worker, `return 200 "ok"` (access log off)
#   courier /plain   a function route on one loop
#   courier /ask     an ask-backed JSON route (the edge and its actor on loop 0):
#                    the reply struct goes through nlohmann::json (to_json)
#   courier /ask-text  the same route with the actor rendering its JSON
#                    (http::json_text)
# Each is loaded with `wrk -t1 -c100 -d${SECONDS_PER_RUN:-10}s`, interleaved
# for ${ROUNDS:-3} rounds; the table shows medians of requests/s, and the
# median of the round-by-round ratios to nginx.
#   benchmarks/http.sh [build-dir]      (installs wrk and nginx-light if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  scripts/install-deps.sh "${need[@]}"
fi
cmake --build "$build" --target courier_http_bench >/dev/null

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# nginx on an ephemeral-ish port chosen by the kernel for a probe socket.
nport=$((20000 + RANDOM % 20000))
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport;
    location / { return 200 "ok"; }
  }
}
CONF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
pids+=($!)
"$build/benchmarks/courier_http_bench" --port-file "$tmp/port" >/dev/null &
pids+=($!)
for _ in $(seq 100); do
  [ -s "$tmp/port" ] && curl -s -o /dev/null "http://127.0.0.1:$nport/" && break
  sleep 0.1
done
cport=$(cat "$tmp/port")

run() { # <name> <url>
  local rps
  rps=$(wrk -t1 -c100 -d"${secs}s" "$2" | awk '/Requests\/sec/ {print $2}')
  echo "$1 $rps" >>"$tmp/results"
  echo "  $1: $rps req/s"
}
: >"$tmp/results"
names=(nginx courier_plain courier_ask courier_ask_text)
urls=("http://127.0.0.1:$nport/" "http://127.0.0.1:$cport/plain"
  "http://127.0.0.1:$cport/ask" "http://127.0.0.1:$cport/ask-text")
for r in $(seq "$rounds"); do
  echo "round $r/$rounds"
  # Each round starts with the next server, so none always runs first.
  for k in 0 1 2 3; do
    i=$(((r - 1 + k) % 4))
    run "${names[$i]}" "${urls[$i]}"
  done
done
echo
median() { # <name>: the median req/s of that server's runs
  awk -v n="$1" '$1 == n {print $2}' "$tmp/results" | sort -g |
    awk '{x[NR] = $1} END {print (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2}'
}
# The ratio of each round (the three runs of a round are back to back, so
# they share the machine's load of that moment), then its median.
ratio() { # <name>: the median of name/nginx over the rounds
  awk -v n="$1" '$1 == "nginx" {b[++i] = $2} $1 == n {a[++j] = $2}
    END {for (k = 1; k <= j; k++) print a[k] / b[k]}' "$tmp/results" | sort -g |
    awk '{x[NR] = $1} END {print (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2}'
}
base=$(median nginx)
printf "%-17s %12s %10s %16s\n" server "req/s" "vs nginx" "round by round"
for name in "${names[@]}"; do
  m=$(median "$name")
  printf "%-17s %12.0f %9.2fx %15.2fx\n" "$name" "$m" \
    "$(awk -v a="$m" -v b="$base" 'BEGIN {print a / b}')" "$(ratio "$name")"
done
