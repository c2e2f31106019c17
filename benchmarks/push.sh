#!/usr/bin/env bash
# Push over HTTP against nginx + nchan, side by side in one run:
#   courier   samples/hub (1 loop): SSE, long polling, POST /publish
#   nchan     nginx, 1 worker, the nchan module, one channel per workload
# Workloads, each loaded by build/benchmarks/courier_push_load (one
# single-threaded libuv client that publishes by pipelined HTTP POST and
# checks exactly-once delivery to every subscriber):
#   idle      RSS of the server before/after holding 10,000 idle SSE streams
#             (first round only, on the fresh servers)
#   sse_1k    1,000 SSE subscribers x 1,000 events of ~100 B
#   sse_10k   10,000 SSE subscribers x 100 events
#   poll_1k   1,000 long-poll clients x 1,000 events; nchan twice: with
#             its default (one message per answer) and with multipart
#             answers (every message available, as courier answers)
#   sse_paced, poll_paced
#             the SSE and long-poll workloads with one publish in flight:
#             each POST leaves after the previous one's answer, so events
#             come one at a time and latency is that of one event, not of
#             a burst's queue (nchan long polls with multipart answers)
# interleaved for ${ROUNDS:-1} rounds; the table shows medians. Except in
# the paced workloads, events are published as fast as a 32-deep pipeline
# allows, so deliveries/s is the fan-out throughput and p99 includes the
# queueing of a burst. "server CPU
# s" is the server's user + system time from the first publish to the end
# (on 2 cores, the server and the client each get about one).
#   benchmarks/push.sh [build-dir]  (installs nginx and libnginx-mod-nchan if
#                                    missing)
#   ROUNDS=3 WORKLOADS="sse_paced poll_paced" benchmarks/push.sh  (a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${ROUNDS:-1}

module() { # the path of nchan's nginx module, or nothing
  local f
  for f in /usr/lib/nginx/modules/ngx_nchan_module.so \
    /usr/share/nginx/modules/ngx_nchan_module.so; do
    [ -f "$f" ] && { echo "$f"; return; }
  done
  f=$(sed -n 's/^load_module \(.*\);/\1/p' \
    /usr/share/nginx/modules-available/mod-nchan.conf 2>/dev/null || true)
  [ -n "$f" ] && [ -f "/usr/share/nginx/$f" ] && echo "/usr/share/nginx/$f"
  [ -n "$f" ] && [ -f "/usr/lib/nginx/$f" ] && echo "/usr/lib/nginx/$f"
  true
}

need=()
command -v nginx >/dev/null || need+=(nginx-light)
[ -n "$(module)" ] || need+=(libnginx-mod-nchan)
if [ ${#need[@]} -gt 0 ]; then
  scripts/install-deps.sh "${need[@]}"
fi
nchan_module=$(module | head -1)
[ -n "$nchan_module" ] || { echo "push.sh: no nchan module found" >&2; exit 1; }
cmake --build "$build" --target hub courier_push_load -j2 >/dev/null
load=$build/benchmarks/courier_push_load

# Each side holds 10,000 connections at once; the client as many.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
big=10000
if [ "$fds" != unlimited ] && [ "$fds" -lt $((big + 200)) ]; then
  big=$((fds - 200))
  echo "push.sh: ulimit -n is $fds: 10,000-connection workloads use $big" >&2
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/nginx"
write_conf() { # for $nport
  cat >"$tmp/nginx/nginx.conf" <<CONF
load_module $nchan_module;
worker_processes 1;
worker_rlimit_nofile 40000;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  nchan_max_reserved_memory 512M;
  server {
    listen 127.0.0.1:$nport backlog=4096;
    location ~ /pub/(\w+)$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 100000;
      nchan_message_timeout 1h;
    }
    # EventSource (Accept: text/event-stream) or long polling (plain GET,
    # then If-Modified-Since / If-None-Match), from the channel's oldest
    # message: every workload has a fresh channel, so nothing is missed.
    location ~ /sub/(\w+)$ {
      nchan_subscriber;
      nchan_channel_id \$1;
      nchan_subscriber_first_message oldest;
    }
    # Long polling that answers with every message available (as
    # multipart/mixed), as courier's /poll does.
    location ~ /subm/(\w+)$ {
      nchan_subscriber;
      nchan_channel_id \$1;
      nchan_subscriber_first_message oldest;
      nchan_longpoll_multipart_response on;
    }
  }
}
CONF
}
# nginx on a port below the ephemeral range (the client's 10,000 sockets
# live there); another try when that one is taken.
for _ in 1 2 3 4 5; do
  nport=$((20000 + RANDOM % 12000))
  write_conf
  nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>>"$tmp/nginx/start.err" &
  nmaster=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$nport/" && break
    kill -0 "$nmaster" 2>/dev/null || break
    sleep 0.1
  done
  curl -s -o /dev/null "http://127.0.0.1:$nport/" && break
  kill "$nmaster" 2>/dev/null || true
  wait "$nmaster" 2>/dev/null || true
  nmaster=
done
[ -n "$nmaster" ] || { echo "push.sh: nginx did not start" >&2; cat "$tmp/nginx/start.err" >&2; exit 1; }
pids+=("$nmaster")
"$build/samples/hub/hub" --listen 127.0.0.1:0 --publish --history 200000 \
  --max-streams 20000 --max-waiters 20000 --max-connections 30000 \
  >"$tmp/hub.out" 2>&1 &
pids+=($!)
hub=$!
cport=
for _ in $(seq 100); do
  cport=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' \
    "$tmp/hub.out")
  [ -n "$cport" ] && break
  sleep 0.1
done
[ -n "$cport" ] || { echo "push.sh: the hub did not start" >&2; cat "$tmp/hub.out" >&2; exit 1; }
nworker=$(pgrep -P "$nmaster" | head -1)
[ -n "$nworker" ] || { echo "push.sh: no nginx worker" >&2; exit 1; }

run() { # <server> <workload> <round>
  local s=$1 w=$2 ch="$2r$3" sub pub pid flavor args
  if [ "$s" = courier ]; then
    flavor=courier pid=$hub
    sub="http://127.0.0.1:$cport/sse/$ch" pub="http://127.0.0.1:$cport/publish/$ch"
    case $w in poll_1k | poll_paced) sub="http://127.0.0.1:$cport/poll/$ch" ;; esac
  else
    flavor=nchan pid=$nworker
    sub="http://127.0.0.1:$nport/sub/$ch" pub="http://127.0.0.1:$nport/pub/$ch"
    case $w in poll_1k_mp | poll_paced) sub="http://127.0.0.1:$nport/subm/$ch" ;; esac
  fi
  case $w in
    idle) args=(idle -c "$big" --hold 3 --deadline 60) ;;
    sse_1k) args=(sse -c 1000 -n 1000 --deadline 60) ;;
    sse_10k) args=(sse -c "$big" -n 100 --deadline 60) ;;
    poll_1k | poll_1k_mp) args=(poll -c 1000 -n 1000 --deadline 90) ;;
    sse_paced) args=(sse -c 1000 -n 1000 --window 1 --deadline 90) ;;
    poll_paced) args=(poll -c 1000 -n 1000 --window 1 --deadline 90) ;;
  esac
  local line
  line=$(timeout 150 "$load" "${args[@]}" --server "$flavor" --sub "$sub" \
    --pub "$pub" -b 100 --pid "$pid" --label "$w" 2>>"$tmp/load.err") ||
    line="$w label=$w server=$flavor failed=1"
  echo "$line" >>"$tmp/results"
  echo "  $line"
  sleep 1 # let the server close what the client reset
}

: >"$tmp/results"
for r in $(seq "$rounds"); do
  echo "round $r/$rounds"
  # Idle memory only on fresh servers: after a workload, freed memory
  # stays in the process and new connections reuse it.
  if [ -n "${WORKLOADS:-}" ]; then
    read -r -a ws <<<"$WORKLOADS"
  else
    ws=(sse_1k sse_10k poll_1k sse_paced poll_paced)
    [ "$r" -eq 1 ] && ws=(idle "${ws[@]}")
  fi
  for w in "${ws[@]}"; do
    if [ $((r % 2)) -eq 1 ]; then
      run courier "$w" "$r"; run nchan "$w" "$r"
    else
      run nchan "$w" "$r"; run courier "$w" "$r"
    fi
  done
  case " ${ws[*]} " in
    *" poll_1k "*) run nchan poll_1k_mp "$r" ;; # against courier's poll_1k
  esac
done
echo

median() { # <workload> <server> <key>: the median of that key's values
  awk -v w="$1" -v s="$2" -v k="$3" '
    {
      lab = ""; srv = ""; val = ""
      for (i = 1; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "label") lab = kv[2]
        if (kv[1] == "server") srv = kv[2]
        if (kv[1] == k) val = kv[2]
      }
      if (lab == w && srv == s && val != "") print val
    }' "$tmp/results" | sort -g |
    awk '{x[NR] = $1} END {if (NR == 0) print "n/a"; else print (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2}'
}
ratio() { # <a> <b>: a / b, or n/a
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'
}
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
row() { # <label> <courier> <nchan> <ratio>
  printf "| %s | %s | %s | %s |\n" "$1" "$2" "$3" "$4"
}
errors() { # <workload> <server>: lost/dup, with errors when there were any
  local lost dup ce
  lost=$(median "$1" "$2" lost) dup=$(median "$1" "$2" dup)
  ce=$(median "$1" "$2" conn_errors)
  if [ "$ce" != 0 ] && [ "$ce" != n/a ]; then
    echo "$lost / $dup ($ce conn errors)"
  else
    echo "$lost / $dup"
  fi
}

echo "Medians of $rounds round(s); ratio > 1 means courier is better."
echo
row workload courier nchan ratio
row --- --- --- ---
for w in sse_1k sse_10k poll_1k poll_1k_mp sse_paced poll_paced; do
  cw=$w nw=$w
  case $w in
    sse_1k) name="SSE 1,000 x 1,000" ;;
    sse_10k) name="SSE $(commas "$big") x 100" ;;
    poll_1k) name="long poll 1,000 x 1,000 (nchan: a message per answer)" ;;
    poll_1k_mp) cw=poll_1k
      name="long poll 1,000 x 1,000 (nchan: multipart answers)" ;;
    sse_paced) name="paced SSE 1,000 x 1,000 (one publish in flight)" ;;
    poll_paced) name="paced long poll 1,000 x 1,000 (nchan: multipart)" ;;
  esac
  c=$(median $cw courier rate) n=$(median $nw nchan rate)
  row "$name: deliveries/s" "$c" "$n" "$(ratio "$c" "$n")"
  c=$(median $cw courier p50_ms) n=$(median $nw nchan p50_ms)
  row "$name: p50 latency ms" "$c" "$n" "$(ratio "$n" "$c")"
  c=$(median $cw courier p99_ms) n=$(median $nw nchan p99_ms)
  row "$name: p99 latency ms" "$c" "$n" "$(ratio "$n" "$c")"
  c=$(median $cw courier server_cpu_s) n=$(median $nw nchan server_cpu_s)
  row "$name: server CPU s" "$c" "$n" "$(ratio "$n" "$c")"
  row "$name: lost / dup" "$(errors $cw courier)" "$(errors $nw nchan)" "-"
done
c=$(median idle courier kb_per_conn) n=$(median idle nchan kb_per_conn)
row "idle SSE connection: KB each ($(commas "$big") held)" "$c" "$n" "$(ratio "$n" "$c")"
if [ -s "$tmp/load.err" ] && grep -v '^ready:' "$tmp/load.err" >/dev/null; then
  echo
  echo "load client messages:"
  grep -v '^ready:' "$tmp/load.err" | head -20
fi
