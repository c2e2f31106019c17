#pragma once

// When a loop that has just done work should spin on its inbound queue
// before it sleeps, and for how long (docs/scheduling.md).
//
// Spinning saves the wake-up of a sleeping loop (tens of microseconds on a
// VM) when more cross-thread work follows at once, and wastes a CPU when it
// does not. Two measurements decide:
// - whether spinning pays: a spin that finds work restores the full budget
//   (system_config::spin); one that runs out halves it, down to a floor of
//   a sixteenth, so a loop whose work comes in sparse bursts spins briefly;
// - whether the machine has a CPU to spare: a spin that sees a gap of more
//   than `preempted_gap` between two of its clock reads lost its CPU to
//   another thread or process. Then the loop stops spinning for a back-off
//   that doubles from 1 ms to 128 ms while preemptions go on, and halves
//   after each spin that runs undisturbed. On an oversubscribed machine a
//   message then costs a wake-up, never a wait for the scheduler to give a
//   spinning thread back its CPU.
//
// Thread safety: the owning loop only. Time is passed in, so tests can
// drive it.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace courier::detail {

class spin_policy {
 public:
  using clock = std::chrono::steady_clock;
  using duration = std::chrono::nanoseconds;

  /// A gap between two clock reads of one spin that means preemption (a
  /// read comes every 64 pauses, a few microseconds).
  static constexpr duration preempted_gap = std::chrono::microseconds(200);
  static constexpr duration min_backoff = std::chrono::milliseconds(1);
  static constexpr duration max_backoff = std::chrono::milliseconds(128);

  explicit spin_policy(duration max_budget) noexcept
      : max_(std::max(max_budget, duration::zero())), budget_(max_) {}

  /// How long to spin now (zero: sleep at once).
  duration budget(clock::time_point now) const noexcept {
    if (max_ == duration::zero() || now < quiet_until_) {
      return duration::zero();
    }
    return budget_;
  }

  /// The spin found work.
  void hit() noexcept {
    ++hits_;
    budget_ = max_;
    calm();
  }
  /// The spin ran out of budget.
  void miss() noexcept {
    ++misses_;
    budget_ = std::max(budget_ / 2, max_ / 16);
    calm();
  }
  /// The spin ended because I/O became ready (neither pays nor costs).
  void io() noexcept { calm(); }
  /// The spin lost its CPU (seen at `now`).
  void preempted(clock::time_point now) noexcept {
    ++preemptions_;
    backoff_ = std::clamp(backoff_ * 2, min_backoff, max_backoff);
    quiet_until_ = now + backoff_;
  }

  std::uint64_t hits() const noexcept { return hits_; }
  std::uint64_t misses() const noexcept { return misses_; }
  std::uint64_t preemptions() const noexcept { return preemptions_; }
  duration backoff() const noexcept { return backoff_; }

 private:
  void calm() noexcept {
    backoff_ = backoff_ <= min_backoff ? duration::zero() : backoff_ / 2;
  }

  duration max_;
  duration budget_;
  duration backoff_{0};
  clock::time_point quiet_until_{};
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t preemptions_ = 0;
};

}  // namespace courier::detail
