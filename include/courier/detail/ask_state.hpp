#pragma once

#include "courier/detail/envelope.hpp"
#include "courier/detail/post.hpp"
#include "courier/error.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace courier::detail {

/// The text of a bad_reply_type error.
std::string bad_reply_message(type_id got, type_id expected);

/// The shared state of a blocking ask: completed once by the responder's
/// thread, waited on by the asking thread, reference counted by both.
class ask_state_base {
 public:
  ask_state_base() = default;
  ask_state_base(const ask_state_base&) = delete;
  ask_state_base& operator=(const ask_state_base&) = delete;
  virtual ~ask_state_base() = default;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete this;
    }
  }

  /// Completes with a reply (a value or an ask_failure); false when the
  /// asker already gave up (the reply is late). Thread safety: any thread.
  bool complete(envelope&& reply) noexcept;

  /// Waits until complete or the deadline; false on timeout (then the state
  /// is abandoned and a later reply counts as late).
  bool wait_until(std::chrono::steady_clock::time_point deadline) noexcept;

  /// Marks the state abandoned unless it is already complete.
  void abandon() noexcept;

  bool failed() const noexcept { return error_ != errc{}; }
  errc error() const noexcept { return error_; }
  const std::string& what() const noexcept { return what_; }

  /// The system the request went to (for counting timeouts, late replies).
  std::uint16_t origin_system = 0;

 protected:
  /// Moves the value out of `reply` when it has the expected type.
  virtual bool store(envelope& reply) noexcept = 0;
  virtual type_id expected_type() const noexcept = 0;

 private:
  enum : int { pending, filling, done, abandoned };
  std::atomic<int> state_{pending};
  std::atomic<int> refs_{1};
  std::atomic<bool> sleeping_{false};
  errc error_{};
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
};

template <class T>
class ask_state final : public ask_state_base {
 public:
  std::optional<T>& value() noexcept { return value_; }

 protected:
  bool store(envelope& reply) noexcept override {
    if (reply.type() != type_of<T>()) {
      return false;
    }
    value_.emplace(std::move(reply.get<T>()));
    return true;
  }
  type_id expected_type() const noexcept override { return type_of<T>(); }

 private:
  std::optional<T> value_;
};

}  // namespace courier::detail
