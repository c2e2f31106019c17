#pragma once

#include "courier/actor_ref.hpp"
#include "courier/detail/envelope.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace courier {

class actor;

/// A handle to a timer started by an actor with after() or every(). Copies
/// name the same timer; dropping every copy does not cancel it (timers end
/// by firing, by cancel(), by a keyed replacement, or when their actor
/// stops).
/// Thread safety: use it on its actor's own loop only (in the actor's
/// handlers); elsewhere cancel() and active() throw std::logic_error.
class timer {
 public:
  timer() = default;

  /// Cancels the timer; returns whether it was still active. After it, no
  /// tick of this timer is handled, even one already queued.
  bool cancel();

  /// True until the timer fired its last time or was cancelled.
  bool active() const;

  /// The owning actor.
  actor_ref owner() const noexcept { return owner_; }

 private:
  friend struct detail::timer_access;
  timer(actor_ref owner, std::uint64_t id) noexcept : owner_(owner), id_(id) {}

  actor_ref owner_{};
  std::uint64_t id_ = 0;
};

namespace detail {

/// What a timer does when its tick is handled, in its actor's context.
class timer_action {
 public:
  timer_action() = default;
  timer_action(const timer_action&) = delete;
  timer_action& operator=(const timer_action&) = delete;
  virtual ~timer_action() = default;
  /// A message timer puts its message in `out` (moved out when `last`) and
  /// returns true; a function timer runs the function and returns false.
  virtual bool fire(envelope& out, bool last) = 0;
};

template <class M>
class message_action final : public timer_action {
 public:
  template <class A>
  explicit message_action(A&& m) : msg_(std::forward<A>(m)) {}
  bool fire(envelope& out, bool last) override {
    if constexpr (std::is_copy_constructible_v<M>) {
      if (!last) {
        out.emplace<M>(msg_);
        return true;
      }
    }
    out.emplace<M>(std::move(msg_));
    return true;
  }

 private:
  M msg_;
};

template <class F>
class function_action final : public timer_action {
 public:
  template <class A>
  explicit function_action(A&& f) : fn_(std::forward<A>(f)) {}
  bool fire(envelope& /*out*/, bool /*last*/) override {
    fn_();
    return false;
  }

 private:
  F fn_;
};

/// Starts a timer of `owner`; `period_ms` 0 means once. A non-empty `key`
/// replaces the owner's timer of that key. Throws std::logic_error off the
/// owner's loop thread.
timer start_timer(actor& owner, std::string_view key, std::uint64_t delay_ms,
                  std::uint64_t period_ms,
                  std::unique_ptr<timer_action> action);

/// Keyed timers of `owner`; same thread rule as start_timer().
bool cancel_keyed_timer(actor& owner, std::string_view key);
bool keyed_timer_active(const actor& owner, std::string_view key);
void cancel_all_timers(actor& owner);

struct timer_access {
  static timer make(actor_ref owner, std::uint64_t id) noexcept {
    return {owner, id};
  }
  static std::uint64_t id(const timer& t) noexcept { return t.id_; }
};

/// Milliseconds, rounded up, and never negative.
template <class Rep, class Period>
std::uint64_t to_timer_ms(std::chrono::duration<Rep, Period> d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return ms <= 0 ? 0 : static_cast<std::uint64_t>(ms);
}

template <bool Periodic, class M>
std::unique_ptr<timer_action> make_timer_action(M&& m) {
  using T = std::decay_t<M>;
  if constexpr (std::is_invocable_v<T&>) {
    return std::make_unique<function_action<T>>(std::forward<M>(m));
  } else {
    static_assert(std::is_move_constructible_v<T>,
                  "a timer message must be movable");
    // every() sends a copy on each tick.
    static_assert(!Periodic || std::is_copy_constructible_v<T>,
                  "every() needs a copyable message or a function");
    return std::make_unique<message_action<T>>(std::forward<M>(m));
  }
}

}  // namespace detail
}  // namespace courier
