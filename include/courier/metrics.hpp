#pragma once

#include <cstdint>
#include <vector>

namespace courier {

/// Counters of one loop, read without stopping it (each value is exact for
/// its own counter; the set is not an atomic snapshot).
struct loop_metrics {
  std::uint64_t messages = 0;       ///< messages handled by actors
  std::uint64_t wakeups = 0;        ///< uv_async wake-ups of a sleeping loop
  std::uint64_t actors = 0;         ///< actors alive on this loop
  std::uint64_t inbound_depth = 0;  ///< cross-thread messages waiting
  std::uint64_t timers = 0;         ///< actor timers pending
  std::uint64_t timer_ticks_skipped = 0;  ///< periodic ticks not piled up
  /// Spins before sleeping (docs/scheduling.md): found work, ran out, or
  /// lost the CPU to another thread (the loop then stops spinning a while).
  std::uint64_t spin_hits = 0;
  std::uint64_t spin_misses = 0;
  std::uint64_t spin_preemptions = 0;
};

/// A snapshot of a system's counters. Every drop, timeout, dead letter and
/// failure is counted here.
struct metrics {
  std::uint64_t actors_spawned = 0;
  std::uint64_t actors_stopped = 0;
  std::uint64_t dead_letters = 0;  ///< messages to stopped/unknown actors
  std::uint64_t unhandled = 0;     ///< messages with no matching handler
  std::uint64_t failures = 0;      ///< handlers that threw
  std::uint64_t ask_timeouts = 0;  ///< asks that hit their deadline
  std::uint64_t late_replies = 0;  ///< replies after the asker gave up
  std::vector<loop_metrics> loops;
};

}  // namespace courier
