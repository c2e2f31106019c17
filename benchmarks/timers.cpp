// The cost of many pending timers: courier's actor timers beside raw libuv
// timers (uv_timer_t, libuv's own heap) on one loop, in one run.
//   courier_timers [--runs=N] [--scale=F]     (N timers = 100,000 * F)
// For each side: start N one-shot timers (ns per timer), heap bytes per
// pending timer, the wall time until all N fired (delays spread over
// 1..100 ms, so about 100 ms is the floor), and cancelling N periodic
// timers (ns per timer).

#include "courier/courier.hpp"

#include "harness.hpp"

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct figures {
  double start_ns = 0;
  double bytes = 0;
  double fire_ms = 0;
  double cancel_ns = 0;
};

std::chrono::milliseconds delay_of(std::size_t i) {
  return std::chrono::milliseconds(1 + static_cast<long>(i % 100));
}

// --- courier ----------------------------------------------------------------

struct measure {
  std::size_t n;
};
struct tick {};

class timer_owner : public courier::actor {
 public:
  explicit timer_owner(std::atomic<std::size_t>* fired) : fired_(fired) {}

 protected:
  courier::behavior behavior() override {
    return {[this](measure m) {
              figures f;
              std::size_t heap0 = bench::heap_in_use();
              auto t0 = clock_type::now();
              for (std::size_t i = 0; i < m.n; ++i) {
                after(delay_of(i), [this] {
                  fired_->fetch_add(1, std::memory_order_relaxed);
                });
              }
              auto t1 = clock_type::now();
              f.start_ns =
                  std::chrono::duration<double, std::nano>(t1 - t0).count() /
                  static_cast<double>(m.n);
              f.bytes = static_cast<double>(bench::heap_in_use() - heap0) /
                        static_cast<double>(m.n);
              return f;
            },
            [this](tick) {
              // Periodic timers, then cancel them all.
              std::size_t n = fired_->load();
              for (std::size_t i = 0; i < n; ++i) {
                every(std::chrono::seconds(10), tick{});
              }
              auto t0 = clock_type::now();
              cancel_timers();
              return std::chrono::duration<double, std::nano>(
                         clock_type::now() - t0)
                         .count() /
                     static_cast<double>(n);
            }};
  }

 private:
  std::atomic<std::size_t>* fired_;
};

figures run_courier(std::size_t n) {
  courier::system sys{courier::system_config{.loops = 1}};
  std::atomic<std::size_t> fired{0};
  auto owner = sys.spawn<timer_owner>(&fired);
  auto t0 = clock_type::now();
  figures f = owner.ask<figures>(measure{n}).get();
  while (fired.load(std::memory_order_relaxed) < n) {
    if (clock_type::now() - t0 > std::chrono::seconds(30)) {
      std::fprintf(stderr, "courier timers did not all fire\n");
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  f.fire_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  f.cancel_ns = owner.ask<double>(tick{}).get();
  return f;
}

// --- libuv ------------------------------------------------------------------

figures run_libuv(std::size_t n) {
  figures f;
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::size_t fired = 0;
  std::size_t heap0 = bench::heap_in_use();
  auto t0 = clock_type::now();
  // One allocation per timer, as an application keeping a handle (and its
  // context) per timer would do.
  std::vector<std::unique_ptr<uv_timer_t>> timers;
  timers.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    timers.push_back(std::make_unique<uv_timer_t>());
    uv_timer_t* t = timers.back().get();
    uv_timer_init(&loop, t);
    t->data = &fired;
    uv_timer_start(
        t, [](uv_timer_t* h) { ++*static_cast<std::size_t*>(h->data); },
        static_cast<std::uint64_t>(delay_of(i).count()), 0);
  }
  auto t1 = clock_type::now();
  f.start_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() /
               static_cast<double>(n);
  f.bytes = static_cast<double>(bench::heap_in_use() - heap0) /
            static_cast<double>(n);
  while (fired < n) {
    uv_run(&loop, UV_RUN_ONCE);
  }
  f.fire_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  for (auto& t : timers) {
    uv_timer_start(
        t.get(), [](uv_timer_t*) {}, 10000, 10000);
  }
  auto t2 = clock_type::now();
  for (auto& t : timers) {
    uv_timer_stop(t.get());
  }
  f.cancel_ns =
      std::chrono::duration<double, std::nano>(clock_type::now() - t2).count() /
      static_cast<double>(n);
  for (auto& t : timers) {
    uv_close(reinterpret_cast<uv_handle_t*>(t.get()), nullptr);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  bench::options o = bench::parse(argc, argv);
  auto n = static_cast<std::size_t>(100000 * o.scale);
  if (n == 0) {
    n = 1;
  }
  // Interleaved: courier then libuv in each run, so both see the same
  // machine load.
  std::vector<figures> c;
  std::vector<figures> u;
  for (int r = 0; r < o.runs; ++r) {
    c.push_back(run_courier(n));
    u.push_back(run_libuv(n));
  }
  auto med = [](const std::vector<figures>& v, double figures::*field) {
    std::vector<double> x;
    for (const auto& f : v) {
      x.push_back(f.*field);
    }
    return bench::median(x);
  };
  std::printf("%zu pending timers on one loop, median of %d runs\n", n, o.runs);
  std::printf("%-28s %12s %12s %10s\n", "", "courier", "libuv", "ratio");
  auto row = [&](const char* name, double figures::*field) {
    double cv = med(c, field);
    double uv = med(u, field);
    std::printf("%-28s %12.1f %12.1f %9.2fx\n", name, cv, uv, cv / uv);
  };
  row("start (ns/timer)", &figures::start_ns);
  row("heap (bytes/pending timer)", &figures::bytes);
  row("all fired (ms, floor 100)", &figures::fire_ms);
  row("cancel (ns/timer)", &figures::cancel_ns);
  return 0;
}
