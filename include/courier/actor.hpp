#pragma once

#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/behavior.hpp"
#include "courier/detail/mailbox.hpp"
#include "courier/timer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace courier {

/// Where a spawned actor runs (docs/scheduling.md). By default it starts
/// next to its spawner: an actor's children on that actor's loop, and all
/// the actors one outside thread spawns on that thread's home loop (the
/// first such thread, usually main, gets loop 0), so that a ring, a pipeline or
/// an asker and its responder exchange messages without crossing threads.
/// Spread actors that should run in parallel: `spread`, or `loop` by hand.
struct spawn_options {
  /// This loop (modulo the number of loops).
  std::optional<std::uint16_t> loop{};
  /// The loop of this actor of the same system.
  actor_ref next_to{};
  /// The next loop in round-robin order.
  bool spread = false;
};

namespace detail {
actor_ref spawn_actor(system_core& sys, std::unique_ptr<actor> a,
                      const spawn_options& opts);
system_core& system_of(const actor& a) noexcept;
}  // namespace detail

/// The base of every actor: user state plus a behavior. An actor lives on
/// one loop for its whole life and handles one message at a time, so its
/// state needs no lock. Subclass it, return the handlers from behavior(),
/// and spawn it with system::spawn<T>(args...).
/// Thread safety: everything here runs on the actor's own loop only.
class actor {
 public:
  actor(const actor&) = delete;
  actor& operator=(const actor&) = delete;
  virtual ~actor();

 protected:
  actor() = default;

  /// The initial behavior; called once on the loop, before on_start().
  virtual courier::behavior behavior() = 0;

  /// Runs on the loop after spawn, before any message is handled.
  virtual void on_start() {}

  /// Runs on the loop when the actor stops (stop(), a failure, a stop
  /// request, or the system shutting down). Messages still queued are
  /// dropped to dead letters; asks among them fail with target_dead.
  virtual void on_stop() {}

  /// This actor's address (valid from on_start()).
  actor_ref self() const noexcept { return self_; }

  /// Stops the actor after the current message.
  void stop() noexcept;

  /// Replaces the behavior; the next message uses the new one.
  void become(courier::behavior next) { behavior_ = std::move(next); }

  /// Prepares a request to `target`; call .then(on_reply, on_error) on the
  /// result to send it. Never blocks.
  template <class R, class Message>
  pending_ask<R> ask(actor_ref target, Message&& msg, ask_options opts = {}) {
    detail::envelope e;
    e.emplace<std::decay_t<Message>>(std::forward<Message>(msg));
    e.target = target;
    return pending_ask<R>(std::move(e), opts.timeout);
  }

  /// Takes over the answer to the ask being handled, to deliver it later.
  /// In a handler for a tell, the promise is empty (not pending).
  template <class R>
  response_promise<R> make_response_promise() {
    response_promise<R> p;
    p.request_ = std::make_shared<detail::envelope>();
    detail::take_current_request(*p.request_);
    return p;
  }

  /// Timers. `msg_or_fn` is a message (delivered to this actor's behavior
  /// like any other message) or a callable taking no argument (run in this
  /// actor's context). Timers run on this actor's loop and end when it
  /// stops. A delay rounds up to whole milliseconds.
  ///
  /// after(): once, after `delay`.
  template <class Rep, class Period, class M>
  timer after(std::chrono::duration<Rep, Period> delay, M&& msg_or_fn) {
    return detail::start_timer(
        *this, {}, detail::to_timer_ms(delay), 0,
        detail::make_timer_action<false>(std::forward<M>(msg_or_fn)));
  }

  /// every(): each `period` (> 0, else std::invalid_argument), first after
  /// one period. Ticks never pile up: while a tick waits in the mailbox or
  /// runs, the ticks that fall due are skipped, and the next one keeps the
  /// original schedule (start + k * period).
  template <class Rep, class Period, class M>
  timer every(std::chrono::duration<Rep, Period> period, M&& msg_or_fn) {
    return detail::start_timer(
        *this, {}, detail::to_timer_ms(delay_or_throw(period)),
        detail::to_timer_ms(period),
        detail::make_timer_action<true>(std::forward<M>(msg_or_fn)));
  }

  /// Keyed timers: starting one replaces this actor's timer of the same key
  /// (a tick of the old one already queued is never handled).
  template <class Rep, class Period, class M>
  timer after(std::string_view key, std::chrono::duration<Rep, Period> delay,
              M&& msg_or_fn) {
    return detail::start_timer(
        *this, key, detail::to_timer_ms(delay), 0,
        detail::make_timer_action<false>(std::forward<M>(msg_or_fn)));
  }
  template <class Rep, class Period, class M>
  timer every(std::string_view key, std::chrono::duration<Rep, Period> period,
              M&& msg_or_fn) {
    return detail::start_timer(
        *this, key, detail::to_timer_ms(delay_or_throw(period)),
        detail::to_timer_ms(period),
        detail::make_timer_action<true>(std::forward<M>(msg_or_fn)));
  }

  /// Cancels the timer of `key`; returns whether one was active.
  bool cancel_timer(std::string_view key) {
    return detail::cancel_keyed_timer(*this, key);
  }
  /// True while a timer of `key` is active.
  bool timer_active(std::string_view key) const {
    return detail::keyed_timer_active(*this, key);
  }
  /// Cancels every timer of this actor.
  void cancel_timers() { detail::cancel_all_timers(*this); }

  /// Spawns another actor in this actor's system.
  template <class A, class... Args>
  actor_ref spawn(spawn_options opts, Args&&... args) {
    return detail::spawn_actor(detail::system_of(*this),
                               std::make_unique<A>(std::forward<Args>(args)...),
                               opts);
  }
  template <class A, class... Args>
  actor_ref spawn(Args&&... args) {
    return spawn<A>(spawn_options{}, std::forward<Args>(args)...);
  }

 private:
  friend struct detail::actor_access;

  template <class Rep, class Period>
  static std::chrono::duration<Rep, Period> delay_or_throw(
      std::chrono::duration<Rep, Period> period) {
    if (period <= std::chrono::duration<Rep, Period>::zero()) {
      throw std::invalid_argument("courier: a timer period must be positive");
    }
    return period;
  }

  courier::behavior behavior_;
  detail::mailbox mailbox_;
  detail::loop* loop_ = nullptr;
  actor* next_ready_ = nullptr;
  actor_ref self_;
  std::uint32_t timers_ = 0xFFFFFFFFu;  // the first of this actor's timers
  std::uint8_t state_ = 0;
  bool scheduled_ = false;
  bool watched_ = false;  // stop watchers want to hear of its stop
};

}  // namespace courier
