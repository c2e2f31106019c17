#include "courier/detail/ask_state.hpp"

#include "registry.hpp"
#include "system_core.hpp"

#include <thread>

namespace courier::detail {

namespace {

// How long a blocked asker spins before it sleeps on the condition
// variable: a reply from a busy loop often comes within microseconds.
constexpr auto spin_time = std::chrono::microseconds(200);

}  // namespace

bool ask_state_base::complete(envelope&& reply) noexcept {
  int expected = pending;
  if (!state_.compare_exchange_strong(expected, filling,
                                      std::memory_order_acquire)) {
    return false;
  }
  if (reply.type() == type_of<ask_failure>()) {
    auto& f = reply.get<ask_failure>();
    error_ = f.code;
    what_ = std::move(f.what);
  } else if (!store(reply)) {
    error_ = errc::bad_reply_type;
    try {
      what_ = bad_reply_message(reply.type(), expected_type());
    } catch (...) {
    }
  }
  reply.reset();
  state_.store(done, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_one();
  }
  return true;
}

bool ask_state_base::wait_until(
    std::chrono::steady_clock::time_point deadline) noexcept {
  auto spin_until = std::chrono::steady_clock::now() + spin_time;
  while (state_.load(std::memory_order_acquire) != done) {
    if (std::chrono::steady_clock::now() >= spin_until) {
      break;
    }
    std::this_thread::yield();
  }
  if (state_.load(std::memory_order_acquire) != done) {
    sleeping_.store(true, std::memory_order_seq_cst);
    std::unique_lock<std::mutex> lock(mutex_);
    while (state_.load(std::memory_order_seq_cst) != done) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        int expected = pending;
        if (state_.compare_exchange_strong(expected, abandoned)) {
          lock.unlock();
          registry::guard g(origin_system);
          if (g.get() != nullptr) {
            g.get()->ask_timeouts.fetch_add(1, std::memory_order_relaxed);
          }
          return false;
        }
        // A responder is filling the state right now; it finishes soon.
      }
    }
  }
  return true;
}

void ask_state_base::abandon() noexcept {
  int expected = pending;
  state_.compare_exchange_strong(expected, abandoned);
}

}  // namespace courier::detail
