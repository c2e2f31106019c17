// Pieces shared by courier's benchmark workloads.
#pragma once

#include "courier/courier.hpp"

#include "harness.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace bench {

/// A one-shot event main can wait on; set from any thread.
class done_flag {
 public:
  void set() {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

inline std::uint64_t scaled(double scale, std::uint64_t n) {
  auto v = static_cast<std::uint64_t>(static_cast<double>(n) * scale);
  return v == 0 ? 1 : v;
}

void add_tell(std::vector<workload>& ws, const options& o);
void add_ask(std::vector<workload>& ws, const options& o);
void add_spawn(std::vector<workload>& ws, const options& o);
void add_ring(std::vector<workload>& ws, const options& o);
void add_pubsub(std::vector<workload>& ws, const options& o);
void add_burst(std::vector<workload>& ws, const options& o);

}  // namespace bench
