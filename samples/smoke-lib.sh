# Sourced by the samples' smoke tests: starting a sample, waiting until it
# is up, stopping it on exit, and checking what it answered.
#   run_sample <command...>   starts it in the background ($pid); its
#                             output goes to $dir/out
#   wait_ready <command...>   retries the command until it succeeds (10 s)
#                             and fails the test if the sample died or
#                             never got ready
#   expect <what> <got> <want>
set -euo pipefail
dir=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT

run_sample() {
  "$@" >"$dir/out" 2>&1 &
  pid=$!
}

wait_ready() {
  for _ in $(seq 100); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: the sample exited"; cat "$dir/out"; exit 1; }
    sleep 0.1
  done
  echo "FAIL: the sample was not ready in 10 s"
  cat "$dir/out"
  exit 1
}

expect() { # <what> <got> <want>
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got [$2], want [$3]"
    exit 1
  fi
  echo "ok   $1"
}
