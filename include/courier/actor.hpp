#pragma once

#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/behavior.hpp"
#include "courier/detail/mailbox.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace courier {

/// Where a new actor runs. By default actors are spread over the loops
/// round-robin. `loop` picks a loop by index (modulo the loop count);
/// `next_to` places the actor on the loop of another actor, so that the two
/// talk through plain memory writes.
struct spawn_options {
  std::optional<std::uint16_t> loop{};
  actor_ref next_to{};
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

  courier::behavior behavior_;
  detail::mailbox mailbox_;
  detail::loop* loop_ = nullptr;
  actor* next_ready_ = nullptr;
  actor_ref self_;
  std::uint8_t state_ = 0;
  bool scheduled_ = false;
};

}  // namespace courier
