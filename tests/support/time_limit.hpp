// A watchdog that aborts the test process when a test runs past its limit.
#pragma once

#include <boost/test/framework.hpp>
#include <boost/test/tree/test_unit.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace courier::test {

class time_limit {
 public:
  explicit time_limit(std::chrono::steady_clock::duration limit)
      : name_(current_test_name()),
        limit_(limit),
        deadline_(std::chrono::steady_clock::now() + limit),
        thread_([this] { watch(); }) {}

  time_limit(const time_limit&) = delete;
  time_limit& operator=(const time_limit&) = delete;

  ~time_limit() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  static std::string current_test_name() {
    if (!boost::unit_test::framework::test_in_progress()) {
      return "(no test in progress)";
    }
    return boost::unit_test::framework::current_test_case().full_name();
  }

  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (cv_.wait_until(lock, deadline_, [this] { return done_; })) {
      return;
    }
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(limit_).count();
    std::fprintf(stderr, "time_limit: test '%s' exceeded %lld ms; aborting\n",
                 name_.c_str(), static_cast<long long>(ms));
    std::fflush(stderr);
    std::abort();
  }

  std::string name_;
  std::chrono::steady_clock::duration limit_;
  std::chrono::steady_clock::time_point deadline_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace courier::test
