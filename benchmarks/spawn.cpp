// spawn: actors per second from main (spawned and started), and the heap
// bytes each idle actor costs once started.

#include "common.hpp"

#include <atomic>

namespace bench {

namespace {

struct ping {};

class idle_actor : public courier::actor {
 public:
  explicit idle_actor(std::atomic<std::uint64_t>* started)
      : started_(started) {}

  courier::behavior behavior() override {
    return {
        [this](int n) { value_ += n; },
        [this](ping) { return value_; },
    };
  }

  void on_start() override {
    started_->fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t>* started_;
  int value_ = 0;
};

struct spawn_result {
  double per_second;
  double bytes_per_actor;
};

spawn_result run_spawn(std::uint64_t n) {
  courier::system sys{courier::system_config{.loops = 2}};
  std::atomic<std::uint64_t> started{0};
  std::vector<courier::actor_ref> refs;
  refs.reserve(n);
  std::size_t before = heap_in_use();
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    refs.push_back(sys.spawn<idle_actor>(&started));
  }
  // Every actor has started once each loop has answered an ask sent after
  // the last spawn (per-sender FIFO order).
  for (std::uint16_t l = 0; l < sys.loop_count(); ++l) {
    for (auto it = refs.rbegin(); it != refs.rend(); ++it) {
      if (it->loop() == l) {
        it->ask<int>(ping{}).get();
        break;
      }
    }
  }
  double secs = seconds_since(t0);
  std::size_t after = heap_in_use();
  // `refs` was reserved before `before` was read: it is not counted.
  double bytes = (static_cast<double>(after) - static_cast<double>(before)) /
                 static_cast<double>(n);
  if (started.load() != n) {
    std::fprintf(stderr, "spawn: only %llu of %llu started\n",
                 static_cast<unsigned long long>(started.load()),
                 static_cast<unsigned long long>(n));
  }
  return {static_cast<double>(n) / secs, bytes};
}

}  // namespace

void add_spawn(std::vector<workload>& ws, const options& o) {
  std::uint64_t n = scaled(o.scale, 1'000'000);
  ws.push_back({"spawn", "actors/s", [n] {
                  return run_spawn(n).per_second;
                }});
  ws.push_back({"spawn_bytes", "B/actor", [n] {
                  return run_spawn(n).bytes_per_actor;
                }});
}

}  // namespace bench
