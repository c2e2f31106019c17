#pragma once

#include "courier/actor.hpp"
#include "courier/actor_ref.hpp"
#include "courier/fwd.hpp"
#include "courier/metrics.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace courier {

/// A message that reached no actor: its target was stopped or never
/// existed, or the system was stopping.
struct dead_letter {
  actor_ref target;
  std::string_view type;  ///< the message type's name
};

/// A message whose type the target's behavior has no handler for.
struct unhandled_message {
  actor_ref target;
  std::string_view type;
};

/// An actor stopped because a handler (or on_start) threw.
struct actor_failure {
  actor_ref target;
  std::string what;
};

/// Settings of a system. The hooks run on the thread that saw the event
/// (usually a loop thread): keep them short and thread-safe.
struct system_config {
  /// Number of loops (threads); 0 means one per hardware thread.
  std::size_t loops = 0;
  /// Messages an actor may handle per turn before the next actor runs.
  std::uint32_t throughput = 64;
  /// The longest an idle loop keeps checking its inbound queue before it
  /// sleeps in uv_run (only after it has just done work; 0 = never spin).
  /// The loop spins less while spins find nothing, and not at all for a
  /// while after a spin lost its CPU to another thread (docs/scheduling.md).
  std::chrono::microseconds spin{50};
  std::function<void(const dead_letter&)> on_dead_letter{};
  std::function<void(const unhandled_message&)> on_unhandled{};
  std::function<void(const actor_failure&)> on_failure{};
};

namespace detail {
/// The shared state behind a system (lib/ only).
system_core& core_of(system& sys) noexcept;
}  // namespace detail

/// Owns the loops (one thread and one uv_loop_t each), spawns actors and
/// shuts down cleanly. Destroying it shuts it down. Loop threads block
/// SIGPIPE (so does the thread that constructs a system on its own
/// uv_loop_t): a write to a socket the peer closed fails with EPIPE
/// instead of ending the process.
/// Thread safety: spawn, stop, request_shutdown, metrics: any thread.
/// shutdown and wait_for_shutdown: not on a loop thread of this system.
class system {
 public:
  /// Starts `cfg.loops` loops on threads of their own.
  explicit system(system_config cfg = {});

  /// Runs one loop on `loop`, which the application owns and keeps
  /// driving with uv_run on the calling thread (the constructor's thread).
  /// The system keeps the loop alive, like an open handle, until
  /// request_shutdown() (or a handled signal) makes uv_run return (uv_stop);
  /// then call shutdown() (or destroy the system) on that thread, outside
  /// uv_run. Blocking asks on that thread fail with blocking_on_loop.
  explicit system(uv_loop_t& loop, system_config cfg = {});

  system(const system&) = delete;
  system& operator=(const system&) = delete;
  ~system();

  /// Constructs an A from args on the calling thread and starts it on a
  /// loop; on_start() runs there before its first message.
  template <class A, class... Args>
  actor_ref spawn(spawn_options opts, Args&&... args) {
    return detail::spawn_actor(
        *core_, std::make_unique<A>(std::forward<Args>(args)...), opts);
  }
  template <class A, class... Args>
  actor_ref spawn(Args&&... args) {
    return spawn<A>(spawn_options{}, std::forward<Args>(args)...);
  }

  /// Asks `target` to stop after the messages already sent to it.
  void stop(actor_ref target);

  /// Stops accepting messages, lets every actor finish the message in hand,
  /// drops what is queued (counted as dead letters; queued asks fail with
  /// system_stopped), runs on_stop hooks, closes every uv handle and joins
  /// the threads. Idempotent.
  void shutdown();

  /// Wakes wait_for_shutdown(); on an application-owned loop it also makes
  /// uv_run return. Thread safety: any thread, including loops.
  void request_shutdown() noexcept;

  /// Turns SIGINT and SIGTERM into request_shutdown().
  void handle_signals();

  /// Blocks until request_shutdown() (or a handled signal), then shuts down.
  /// On an application-owned loop's thread it runs uv_run until then.
  void wait_for_shutdown();

  /// Blocks like wait_for_shutdown() but does not shut down: the loops
  /// still run, so the application can stop what needs a graceful end
  /// first (an HTTP server's requests in flight), then call shutdown().
  void wait_for_shutdown_request();

  /// The number of loops.
  std::size_t loop_count() const noexcept;

  /// The current counters.
  courier::metrics metrics() const;

 private:
  friend detail::system_core& detail::core_of(system& sys) noexcept;
  std::unique_ptr<detail::system_core> core_;
};

}  // namespace courier
