#pragma once

// Polling actors: an actor that checks a source at an interval and turns
// what it finds into messages, with jitter, a per-poll timeout, exponential
// backoff on failure, a stop condition and change detection.

#include "courier/actor.hpp"
#include "courier/ask.hpp"
#include "courier/error.hpp"
#include "courier/system.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace courier {

/// What happened in one poll, for the on_outcome hook (logging, tests).
struct poll_outcome {
  std::uint64_t attempt = 0;  ///< 1 for the first poll
  bool ok = false;
  bool emitted = false;  ///< a value went to the sink
  std::string error;     ///< why it failed (ok == false)
  /// The delay before the next poll (after jitter); zero when the poller
  /// stops.
  std::chrono::milliseconds next_delay{0};
  bool stopping = false;
};

/// Counters of one poller; ask a poller with get_poll_stats{}.
struct poll_stats {
  std::uint64_t polls = 0;      ///< polls started
  std::uint64_t successes = 0;  ///< polls that gave a value
  std::uint64_t failures = 0;   ///< polls that threw, failed or timed out
  std::uint64_t timeouts = 0;   ///< of the failures, those past the timeout
  std::uint64_t changes = 0;    ///< values emitted to the sink
  std::uint64_t consecutive_failures = 0;
  /// The backoff delay now in force (the interval after a success).
  std::chrono::milliseconds current_backoff{0};
  /// Wall-clock time of the last success, if any.
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::string last_error;
  bool in_flight = false;
};

/// Asks a poller for its poll_stats.
struct get_poll_stats {};

/// What a poller tells an actor sink for each emitted value.
template <class T>
struct polled {
  T value;
  actor_ref poller;
  std::uint64_t change = 0;  ///< 1 for the first emitted value
};

/// What a poller tells an actor sink when it stops by itself (stop
/// predicate, max_polls, max_attempts).
struct poll_stopped {
  actor_ref poller;
  std::string reason;
};

/// Options of a poller of values of type T. Invalid values (interval <= 0,
/// jitter outside [0, 1), backoff_factor < 1, backoff_cap < interval,
/// timeout <= 0, change detection on a type without == and no `same`) make
/// the poller's constructor throw std::invalid_argument.
template <class T>
struct poll_options {
  /// From the end of one poll to the start of the next.
  std::chrono::milliseconds interval{1000};
  /// Before the first poll; a random [0, jitter * interval) is added.
  std::chrono::milliseconds initial_delay{0};
  /// Each delay is multiplied by a factor drawn from [1 - jitter,
  /// 1 + jitter], so that many pollers do not fire in the same millisecond.
  double jitter = 0.0;
  /// An asynchronous poll not completed within this counts as a failure
  /// (a completion after it is ignored).
  std::chrono::milliseconds timeout{30000};
  /// After n consecutive failures the delay is min(cap, interval *
  /// factor^n); a success resets it to the interval. 1 = no backoff.
  double backoff_factor = 2.0;
  /// The cap of the backoff delay (before jitter); unset: 32 * interval.
  std::optional<std::chrono::milliseconds> backoff_cap{};
  /// Consecutive failures after which the poller gives up; 0 = never.
  std::uint64_t max_attempts = 0;
  /// Polls after which the poller stops; 0 = no limit.
  std::uint64_t max_polls = 0;
  /// Stops the poller after a value for which it returns true (the value
  /// is emitted first).
  std::function<bool(const T&)> stop_when{};
  /// Emit only values that differ from the last one seen.
  bool changes_only = true;
  /// Equality for change detection; unset: T's operator==.
  std::function<bool(const T&, const T&)> same{};
  /// Called on the poller's loop after every poll.
  std::function<void(const poll_outcome&)> on_outcome{};
  /// Seed of the jitter; 0: a random seed.
  std::uint64_t seed = 0;
};

namespace detail {

/// The delays of a poller: validated settings, jitter, backoff.
class poll_schedule {
 public:
  struct settings {
    std::chrono::milliseconds interval;
    std::chrono::milliseconds initial_delay;
    double jitter;
    std::chrono::milliseconds timeout;
    double backoff_factor;
    std::optional<std::chrono::milliseconds> backoff_cap;
    std::uint64_t seed;
  };
  /// Throws std::invalid_argument on a bad setting.
  explicit poll_schedule(const settings& s);

  std::chrono::milliseconds first();
  std::chrono::milliseconds after_success();
  std::chrono::milliseconds after_failure(std::uint64_t consecutive);
  /// The un-jittered delay last chosen.
  std::chrono::milliseconds current_backoff() const noexcept {
    return backoff_;
  }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }

 private:
  std::chrono::milliseconds jittered(std::chrono::milliseconds d);

  std::chrono::milliseconds interval_;
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds backoff_;
  double jitter_;
  double factor_;
  std::mt19937_64 rng_;
};

/// The result of an asynchronous poll, told to the poller.
template <class T>
struct poll_result {
  std::uint64_t attempt = 0;
  std::optional<T> value;
  std::string error;
};

}  // namespace detail

/// Completes one asynchronous poll: call succeed() or fail() once (later
/// calls, and calls after the poll timed out, are ignored). Copyable.
/// Thread safety: any thread.
template <class T>
class poll_completion {
 public:
  poll_completion(actor_ref poller, std::uint64_t attempt) noexcept
      : poller_(poller), attempt_(attempt) {}

  void succeed(T value) const {
    poller_.tell(detail::poll_result<T>{attempt_, std::move(value), {}});
  }
  void fail(std::string reason) const {
    poller_.tell(
        detail::poll_result<T>{attempt_, std::nullopt, std::move(reason)});
  }

 private:
  actor_ref poller_;
  std::uint64_t attempt_;
};

/// Where a poller gets its values. Either a synchronous callable
/// `T()` (it runs on the poller's loop, so keep it short; a throw is a
/// failure) or an asynchronous one `void(poll_completion<T>)` that starts
/// the work and completes later, from any thread (poll_ask() builds one
/// that asks an actor; the HTTP client adds one for GET requests).
template <class T>
class poll_source {
 public:
  template <class F>
  requires std::is_invocable_r_v<T, F&> poll_source(
      F f)  // NOLINT(google-explicit-constructor)
      : sync_(std::move(f)) {}

  template <class F>
  requires(!std::is_invocable_r_v<T, F&> &&
           std::is_invocable_v<F&, poll_completion<T>>)
      poll_source(F f)  // NOLINT(google-explicit-constructor)
      : async_(std::move(f)) {}

  bool is_async() const noexcept { return static_cast<bool>(async_); }
  T call() const { return sync_(); }
  void start(poll_completion<T> done) const { async_(std::move(done)); }

 private:
  std::function<T()> sync_;
  std::function<void(poll_completion<T>)> async_;
};

/// An asynchronous source that asks `target` with a copy of `msg` on each
/// poll and takes the reply (an R convertible to T) as the value; an
/// ask_error is a failure.
template <class T, class R = T, class Message>
poll_source<T> poll_ask(
    actor_ref target, Message msg,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  return poll_source<T>(
      [target, msg = std::move(msg), timeout](poll_completion<T> done) {
        detail::pending_ask_access::make<R>(target, msg, timeout)
            .then([done](R value) { done.succeed(T(std::move(value))); },
                  [done](const ask_error& e) { done.fail(e.what()); });
      });
}

/// Where a poller puts emitted values: an actor (told polled<T>, and
/// poll_stopped when the poller stops by itself) or a callable run on the
/// poller's loop.
template <class T>
class poll_sink {
 public:
  poll_sink(actor_ref target)  // NOLINT(google-explicit-constructor)
      : target_(target) {}
  template <class F>
  requires std::is_invocable_v<F&, const T&> poll_sink(
      F f)  // NOLINT(google-explicit-constructor)
      : fn_(std::move(f)) {}

  void emit(const T& value, actor_ref poller, std::uint64_t change) const {
    if (fn_) {
      fn_(value);
    } else {
      target_.tell(polled<T>{value, poller, change});
    }
  }
  void stopped(actor_ref poller, const std::string& reason) const {
    if (!fn_) {
      target_.tell(poll_stopped{poller, reason});
    }
  }

 private:
  actor_ref target_{};
  std::function<void(const T&)> fn_;
};

/// A polling actor. A poll never starts while the previous one is in
/// flight: the next poll is scheduled when the previous one ends. Spawn it
/// with spawn_poller() or system::spawn<poller<T>>(source, sink, options).
template <class T>
class poller : public actor {
 public:
  poller(poll_source<T> source, poll_sink<T> sink, poll_options<T> opts = {})
      : source_(std::move(source)),
        sink_(std::move(sink)),
        opts_(std::move(opts)),
        schedule_(settings_of(opts_)) {
    if (opts_.changes_only && !opts_.same) {
      if constexpr (std::equality_comparable<T>) {
        opts_.same = [](const T& a, const T& b) {
          return a == b;
        };
      } else {
        throw std::invalid_argument(
            "courier: poll_options.changes_only needs `same` for a type "
            "without operator==");
      }
    }
  }

 protected:
  courier::behavior behavior() override {
    return {[this](detail::poll_result<T>& r) { on_result(r); },
            [this](get_poll_stats) {
              return stats_;
            }};
  }

  void on_start() override { schedule(schedule_.first()); }

 private:
  static detail::poll_schedule::settings settings_of(const poll_options<T>& o) {
    return {o.interval,       o.initial_delay, o.jitter, o.timeout,
            o.backoff_factor, o.backoff_cap,   o.seed};
  }

  void schedule(std::chrono::milliseconds delay) {
    after("courier.poll", delay, [this] { poll(); });
  }

  void poll() {
    ++attempt_;
    ++stats_.polls;
    stats_.in_flight = true;
    if (!source_.is_async()) {
      std::optional<T> value;
      std::string error;
      try {
        value.emplace(source_.call());
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown exception";
      }
      finish_poll(std::move(value), std::move(error), false);
      return;
    }
    std::uint64_t attempt = attempt_;
    after("courier.poll.timeout", schedule_.timeout(), [this, attempt] {
      if (stats_.in_flight && attempt == attempt_) {
        finish_poll(std::nullopt, "timed out", true);
      }
    });
    try {
      source_.start(poll_completion<T>(self(), attempt));
    } catch (const std::exception& e) {
      finish_poll(std::nullopt, e.what(), false);
    } catch (...) {
      finish_poll(std::nullopt, "unknown exception", false);
    }
  }

  void on_result(detail::poll_result<T>& r) {
    if (!stats_.in_flight || r.attempt != attempt_) {
      return;  // late (after a timeout) or a second completion
    }
    finish_poll(std::move(r.value), std::move(r.error), false);
  }

  void finish_poll(std::optional<T> value, std::string error, bool timed_out) {
    cancel_timer("courier.poll.timeout");
    stats_.in_flight = false;
    poll_outcome out;
    out.attempt = attempt_;
    std::string stop_reason;
    if (value) {
      out.ok = true;
      ++stats_.successes;
      stats_.consecutive_failures = 0;
      stats_.last_success = std::chrono::system_clock::now();
      bool changed =
          !last_ || !opts_.changes_only || !opts_.same(*last_, *value);
      if (changed) {
        ++stats_.changes;
        out.emitted = true;
        sink_.emit(*value, self(), stats_.changes);
      }
      if (opts_.stop_when && opts_.stop_when(*value)) {
        stop_reason = "the stop condition holds";
      }
      last_ = std::move(value);
    } else {
      ++stats_.failures;
      stats_.timeouts += timed_out ? 1 : 0;
      ++stats_.consecutive_failures;
      stats_.last_error = error;
      out.error = std::move(error);
      if (opts_.max_attempts != 0 &&
          stats_.consecutive_failures >= opts_.max_attempts) {
        stop_reason = "gave up after " +
                      std::to_string(stats_.consecutive_failures) +
                      " failed attempts: " + stats_.last_error;
      }
    }
    if (stop_reason.empty() && opts_.max_polls != 0 &&
        stats_.polls >= opts_.max_polls) {
      stop_reason = "max_polls reached";
    }
    if (!stop_reason.empty()) {
      out.stopping = true;
      report(out);
      sink_.stopped(self(), stop_reason);
      stop();
      return;
    }
    out.next_delay = out.ok
                         ? schedule_.after_success()
                         : schedule_.after_failure(stats_.consecutive_failures);
    stats_.current_backoff = schedule_.current_backoff();
    report(out);
    schedule(out.next_delay);
  }

  void report(const poll_outcome& out) {
    if (opts_.on_outcome) {
      opts_.on_outcome(out);
    }
  }

  poll_source<T> source_;
  poll_sink<T> sink_;
  poll_options<T> opts_;
  detail::poll_schedule schedule_;
  poll_stats stats_;
  std::optional<T> last_;
  std::uint64_t attempt_ = 0;
};

/// Spawns a poller of T values from `source` into `sink`.
/// Throws std::invalid_argument on bad options.
template <class T>
actor_ref spawn_poller(system& sys, poll_source<T> source, poll_sink<T> sink,
                       poll_options<T> opts = {}, spawn_options where = {}) {
  return sys.spawn<poller<T>>(where, std::move(source), std::move(sink),
                              std::move(opts));
}

}  // namespace courier
