#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz, replays tests/fuzz/regressions, then runs every harness (or
# the ones named) for a bounded time from its seed corpus. Exits non-zero
# when any harness crashed, leaked, ran out of memory or timed out; the
# reproducers are in build-fuzz/artifacts/<harness>/.
#   scripts/fuzz.sh [--time=S] [--build-dir=DIR] [--jobs=N] [--build-only]
#                   [harness...]
#   FUZZ_KEEP_GOING=1  go on after a crash (libFuzzer's fork mode), to
#                      collect every distinct crash of a run
set -euo pipefail
cd "$(dirname "$0")/.."

time=60
build=build-fuzz
jobs=2
build_only=0
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time=*) time="${1#*=}" ;;
    --build-dir=*) build="${1#*=}" ;;
    --jobs=*) jobs="${1#*=}" ;;
    --build-only) build_only=1 ;;
    -*) echo "usage: $0 [--time=S] [--build-dir=DIR] [--jobs=N]" \
             "[--build-only] [harness...]" >&2
        exit 2 ;;
    *) harnesses+=("$1") ;;
  esac
  shift
done
all=0
if [ ${#harnesses[@]} -eq 0 ]; then
  all=1
  harnesses=(http_request url subject sse json_body)
fi

# What the library needs, and clang with its libFuzzer runtime.
scripts/install-deps.sh g++ make cmake pkg-config libuv1-dev \
  libconcurrentqueue-dev libhttp-parser-dev nlohmann-json3-dev \
  clang libclang-rt-14-dev

# -O1 keeps the fuzzers fast and assertions on (no NDEBUG).
CC=clang CXX=clang++ cmake -S . -B "$build" -DCOURIER_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCOURIER_BUILD_TESTS=OFF -DCOURIER_BUILD_SAMPLES=OFF \
  -DCOURIER_BUILD_BENCHMARKS=OFF -DCOURIER_WITH_NATS=OFF >/dev/null
targets=()
for h in "${harnesses[@]}"; do
  targets+=(--target "fuzz_$h")
done
if [ "$all" = 1 ]; then
  targets=(--target courier_fuzz)  # one make run builds them in parallel
fi
cmake --build "$build" -j"$jobs" "${targets[@]}"
if [ "$build_only" = 1 ]; then
  exit 0
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
keep_going=()
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
  keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi

failed=()
summary=()
for h in "${harnesses[@]}"; do
  bin="$build/tests/fuzz/fuzz_$h"
  artifacts="$build/artifacts/$h"
  corpus="$build/corpus/$h"
  log="$build/logs/$h.log"
  mkdir -p "$artifacts" "$corpus" "$(dirname "$log")"
  flags=(-rss_limit_mb=2048 -timeout=25 -artifact_prefix="$artifacts/"
         -print_final_stats=1)
  if [ -f "tests/fuzz/$h.dict" ]; then
    flags+=(-dict="tests/fuzz/$h.dict")
  fi

  # Fixed crashes stay fixed. Ten runs of each: some need state that an
  # earlier run left (a subscription still warm).
  if compgen -G "tests/fuzz/regressions/$h/*" >/dev/null; then
    echo "fuzz: $h: replaying tests/fuzz/regressions/$h"
    if ! "$bin" "${flags[@]}" -runs=10 "tests/fuzz/regressions/$h"/* \
        >"$build/logs/$h.regressions.log" 2>&1; then
      tail -n 40 "$build/logs/$h.regressions.log" >&2
      failed+=("$h (regression)")
      continue
    fi
  fi

  echo "fuzz: $h for ${time}s (log: $log)"
  # New inputs go to the build tree's corpus; the seeds are read only.
  if "$bin" "${flags[@]}" "${keep_going[@]}" -max_total_time="$time" \
      "$corpus" "tests/fuzz/corpus/$h" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$h")
    tail -n 60 "$log" >&2
  fi
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" |
         grep -o '[0-9]*$' | tail -n 1)
  summary+=("$h: $status, ${rate:-?} exec/s")
done

printf 'fuzz: %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}; reproducers in $build/artifacts/" >&2
  exit 1
fi
