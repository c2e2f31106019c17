#include "courier/poll.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace courier::detail {

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    throw std::invalid_argument(std::string("courier: poll_options: ") + what);
  }
}

}  // namespace

poll_schedule::poll_schedule(const settings& s)
    : interval_(s.interval),
      initial_(s.initial_delay),
      cap_(s.backoff_cap.value_or(s.interval * 32)),
      timeout_(s.timeout),
      backoff_(s.interval),
      jitter_(s.jitter),
      factor_(s.backoff_factor),
      rng_(s.seed != 0 ? s.seed : std::random_device{}()) {
  require(s.interval.count() > 0, "interval must be positive");
  require(s.initial_delay.count() >= 0, "initial_delay must not be negative");
  require(s.jitter >= 0.0 && s.jitter < 1.0, "jitter must be in [0, 1)");
  require(s.timeout.count() > 0, "timeout must be positive");
  require(s.backoff_factor >= 1.0 && std::isfinite(s.backoff_factor),
          "backoff_factor must be at least 1");
  require(cap_ >= s.interval, "backoff_cap must not be below the interval");
}

std::chrono::milliseconds poll_schedule::first() {
  if (jitter_ == 0.0) {
    return initial_;
  }
  std::uniform_real_distribution<double> spread(
      0.0, jitter_ * static_cast<double>(interval_.count()));
  return initial_ +
         std::chrono::milliseconds(static_cast<std::int64_t>(spread(rng_)));
}

std::chrono::milliseconds poll_schedule::after_success() {
  backoff_ = interval_;
  return jittered(backoff_);
}

std::chrono::milliseconds poll_schedule::after_failure(
    std::uint64_t consecutive) {
  // interval * factor^n, computed in floating point and capped (no
  // overflow however long the failures last).
  double d = static_cast<double>(interval_.count()) *
             std::pow(factor_, static_cast<double>(consecutive));
  double cap = static_cast<double>(cap_.count());
  backoff_ = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::llround(std::min(d, cap))));
  return jittered(backoff_);
}

std::chrono::milliseconds poll_schedule::jittered(std::chrono::milliseconds d) {
  if (jitter_ == 0.0) {
    return d;
  }
  std::uniform_real_distribution<double> factor(1.0 - jitter_, 1.0 + jitter_);
  return std::chrono::milliseconds(static_cast<std::int64_t>(
      std::llround(static_cast<double>(d.count()) * factor(rng_))));
}

}  // namespace courier::detail
