#pragma once

#include "courier/actor_ref.hpp"
#include "courier/detail/ask_state.hpp"
#include "courier/detail/callback.hpp"
#include "courier/detail/envelope.hpp"
#include "courier/detail/post.hpp"
#include "courier/error.hpp"
#include "courier/message.hpp"

#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

namespace courier {

namespace detail {

template <class R>
using reply_type = std::conditional_t<std::is_void_v<R>, unit, R>;

/// What runs when an actor's ask is answered (room for two small lambdas).
using ask_continuation = callback<void(envelope&), 6 * sizeof(void*)>;

/// Registers a request made by the actor currently running on this loop
/// thread and sends it; `cont` runs in that actor's context with the reply
/// or an ask_failure. Throws std::logic_error outside an actor.
void send_request(envelope&& request, std::chrono::milliseconds timeout,
                  ask_continuation&& cont);

/// Moves the reply address of the request being handled right now (if any)
/// into `shell`, so that the handler's return value no longer answers it.
void take_current_request(envelope& shell) noexcept;

}  // namespace detail

/// The result of a blocking ask made outside the loops. get() waits for the
/// reply, an error or the deadline. Move-only.
/// Thread safety: one thread at a time; get() fails on a loop thread with
/// errc::blocking_on_loop.
template <class R>
class [[nodiscard]] ask_result {
 public:
  ask_result(ask_result&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        deadline_(other.deadline_) {}
  ask_result& operator=(ask_result&&) = delete;
  ~ask_result() {
    if (state_ != nullptr) {
      state_->abandon();
      state_->release();
    }
  }

  /// Blocks until the answer; throws ask_error on timeout, dead target,
  /// handler failure, missing handler, wrong reply type, or when called on
  /// a loop thread. Call it once.
  R get() {
    if (detail::on_loop_thread()) {
      throw ask_error(errc::blocking_on_loop,
                      "ask_result::get() called on a loop thread");
    }
    if (!state_->wait_until(deadline_)) {
      throw ask_error(errc::ask_timeout, "no reply before the deadline");
    }
    if (state_->failed()) {
      throw ask_error(state_->error(), state_->what());
    }
    if constexpr (!std::is_void_v<R>) {
      return std::move(*state_->value());
    }
  }

 private:
  friend class actor_ref;
  ask_result(detail::ask_state<detail::reply_type<R>>* s,
             std::chrono::steady_clock::time_point deadline) noexcept
      : state_(s), deadline_(deadline) {}

  detail::ask_state<detail::reply_type<R>>* state_;
  std::chrono::steady_clock::time_point deadline_;
};

/// A request made from inside an actor, not yet sent: call then(). The
/// continuation runs later on the actor's own loop, in the actor's
/// context; the loop never blocks.
template <class R>
class [[nodiscard]] pending_ask {
 public:
  /// Sends the request. `on_reply` receives the reply (no argument for
  /// R = void); `on_error` receives a const ask_error&. Exactly one of them
  /// runs, unless the actor stops first.
  /// Thread safety: the owning loop only.
  template <class OnReply, class OnError>
  void then(OnReply on_reply, OnError on_error) && {
    using value = detail::reply_type<R>;
    detail::ask_continuation cont =
        [f = std::move(on_reply),
         g = std::move(on_error)](detail::envelope& e) mutable {
          if (e.type() == detail::type_of<value>()) {
            if constexpr (std::is_void_v<R>) {
              f();
            } else {
              f(std::move(e.get<value>()));
            }
          } else if (e.type() == detail::type_of<detail::ask_failure>()) {
            auto& fail = e.get<detail::ask_failure>();
            g(ask_error(fail.code, fail.what));
          } else {
            g(ask_error(
                errc::bad_reply_type,
                detail::bad_reply_message(e.type(), detail::type_of<value>())));
          }
        };
    detail::send_request(std::move(request_), timeout_, std::move(cont));
  }

 private:
  friend class actor;
  friend struct detail::pending_ask_access;
  pending_ask(detail::envelope&& request,
              std::chrono::milliseconds timeout) noexcept
      : request_(std::move(request)), timeout_(timeout) {}

  detail::envelope request_;
  std::chrono::milliseconds timeout_;
};

/// The promise of an answer that a handler gives later (from another
/// message, a timer or a reply to its own ask). Get one with
/// actor::make_response_promise<R>() inside the handler. Copies share one
/// answer: the first deliver() or fail() answers, later ones do nothing.
/// When the last copy is destroyed unanswered, the asker fails with
/// errc::broken_promise.
/// Thread safety: any thread, but not two copies at the same time.
template <class R>
class response_promise {
 public:
  response_promise() = default;

  /// True while the asker still waits for this promise.
  bool pending() const noexcept {
    return request_ && request_->mode != detail::reply_mode::none;
  }

  /// Answers the asker with `value` (nothing for R = void).
  template <class... V>
  void deliver(V&&... value) {
    if (!pending()) {
      return;
    }
    detail::envelope out;
    out.emplace<detail::reply_type<R>>(std::forward<V>(value)...);
    detail::reply(*request_, std::move(out));
  }

  /// Fails the asker with `code` and `what`.
  void fail(errc code, std::string_view what) {
    if (pending()) {
      detail::reply_error(*request_, code, what);
    }
  }

 private:
  friend class actor;
  std::shared_ptr<detail::envelope> request_;
};

namespace detail {

/// Prepares an ask from the actor whose code runs now on this loop thread
/// (a handler, a timer or a continuation), for code that is not a member
/// of that actor (poll sources, helpers).
struct pending_ask_access {
  template <class R, class Message>
  static pending_ask<R> make(actor_ref target, Message&& msg,
                             std::chrono::milliseconds timeout) {
    envelope e;
    e.emplace<std::decay_t<Message>>(std::forward<Message>(msg));
    e.target = target;
    return pending_ask<R>(std::move(e), timeout);
  }
};

}  // namespace detail

template <class R, class Message>
ask_result<R> actor_ref::ask(Message&& msg, ask_options opts) const {
  using value = detail::reply_type<R>;
  auto* state = new detail::ask_state<value>();  // one ref for the request
  state->add_ref();                              // one for the result
  state->origin_system = system_;
  detail::envelope e;
  e.emplace<std::decay_t<Message>>(std::forward<Message>(msg));
  e.target = *this;
  e.mode = detail::reply_mode::waiter;
  e.request_id = reinterpret_cast<std::uintptr_t>(
      static_cast<detail::ask_state_base*>(state));
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  detail::post(std::move(e));
  return ask_result<R>(state, deadline);
}

template <class Message>
void actor_ref::tell(Message&& msg) const {
  detail::envelope e;
  e.emplace<std::decay_t<Message>>(std::forward<Message>(msg));
  e.target = *this;
  detail::post(std::move(e));
}

}  // namespace courier
