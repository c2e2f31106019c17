// Deadline-bounded waits on events: a countdown, a value box and a poll.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace courier::test {

class countdown {
 public:
  explicit countdown(std::ptrdiff_t count = 1) : count_(count) {}

  countdown(const countdown&) = delete;
  countdown& operator=(const countdown&) = delete;

  void count_down(std::ptrdiff_t n = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    count_ -= n;
    if (count_ <= 0) {
      cv_.notify_all();
    }
  }

  bool done() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_ <= 0;
  }

  std::ptrdiff_t remaining() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return count_ <= 0; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::ptrdiff_t count_;
};

template <class T>
class box {
 public:
  box() = default;
  box(const box&) = delete;
  box& operator=(const box&) = delete;

  void set(T value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = std::move(value);
    cv_.notify_all();
  }

  bool ready() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_.has_value();
  }

  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return value_.has_value(); });
  }

  T get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return *value_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

template <class Pred, class Rep, class Period>
bool poll_until(Pred pred, std::chrono::duration<Rep, Period> timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    std::this_thread::yield();
  }
  return true;
}

}  // namespace courier::test
