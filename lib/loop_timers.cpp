// The loop's deadlines: pending asks and actor timers share one uv timer,
// armed for the earliest of them.

#include "courier/actor.hpp"

#include "actor_access.hpp"
#include "loop.hpp"
#include "loop_internal.hpp"
#include "mailbox_impl.hpp"
#include "system_core.hpp"

#include <stdexcept>
#include <utility>

namespace courier::detail {

// --- asks -------------------------------------------------------------------

std::uint64_t loop::add_request(pending_asks::continuation&& cont,
                                std::chrono::milliseconds timeout) {
  if (running_ == nullptr) {
    throw std::logic_error("courier: actor::ask used outside a handler");
  }
  uv_update_time(uv_);
  std::uint64_t deadline =
      uv_now(uv_) + static_cast<std::uint64_t>(timeout.count());
  std::uint64_t id = asks_.add(acc::self(*running_), std::move(cont), deadline);
  if (timer_due_ == 0 || deadline < timer_due_) {
    arm_timer();
  }
  return id;
}

// --- timers -----------------------------------------------------------------

std::uint64_t loop::add_timer(actor& owner, std::string_view key,
                              std::uint64_t delay_ms, std::uint64_t period_ms,
                              std::unique_ptr<timer_action> action) {
  if (acc::state(owner) == dead) {
    return 0;
  }
  if (!key.empty()) {
    if (std::uint64_t old = timers_.find_key(&owner, key); old != 0) {
      timers_.erase(old, acc::timers(owner));
    }
  }
  uv_update_time(uv_);
  std::uint64_t deadline = uv_now(uv_) + delay_ms;
  std::uint64_t id = timers_.add(&owner, acc::timers(owner), deadline,
                                 period_ms, std::move(action));
  if (!key.empty()) {
    timers_.set_key(id, key);
  }
  if (timer_due_ == 0 || deadline < timer_due_) {
    arm_timer();
  }
  publish_timer_counts();
  return id;
}

bool loop::cancel_timer(std::uint64_t id) {
  timer_table::record* r = timers_.find(id);
  if (r == nullptr) {
    return false;
  }
  // The uv timer may stay armed for this deadline: it then finds nothing
  // due and re-arms for the next one.
  timers_.erase(id, acc::timers(*r->owner));
  publish_timer_counts();
  return true;
}

void loop::cancel_timers_of(actor& owner) {
  timers_.erase_all(acc::timers(owner));
  publish_timer_counts();
}

void loop::run_timer(actor& a, envelope& e) {
  std::uint64_t id = e.request_id;
  timer_table::record* r = timers_.find(id);
  if (r == nullptr || r->owner != &a) {
    return;  // cancelled or replaced after this tick was queued
  }
  r->queued = false;
  bool last = r->period == 0;
  std::unique_ptr<timer_action> action = std::move(r->action);
  if (last) {
    timers_.erase(id, acc::timers(a));
    publish_timer_counts();
  }
  // A periodic timer gets its action back unless the action cancelled or
  // replaced it.
  auto give_back = [&] {
    if (!last) {
      if (timer_table::record* again = timers_.find(id); again != nullptr) {
        again->action = std::move(action);
      }
    }
  };
  envelope msg;
  bool is_message;
  try {
    is_message = action->fire(msg, last);
  } catch (...) {
    give_back();
    throw;
  }
  give_back();
  if (is_message) {
    msg.target = acc::self(a);
    current_ = &msg;
    handle_message(a, msg);
    current_ = &e;
  }
}

void loop::arm_timer() {
  std::uint64_t due = asks_.next_deadline();
  std::uint64_t t = timers_.next_deadline();
  if (t != 0 && (due == 0 || t < due)) {
    due = t;
  }
  if (due == 0 || closing_) {
    timer_due_ = 0;
    uv_timer_stop(&timer_);
    return;
  }
  std::uint64_t now = uv_now(uv_);
  uv_timer_start(&timer_, &loop::on_timer, due > now ? due - now : 0, 0);
  timer_due_ = due;
}

void loop::on_timer_due() {
  timer_due_ = 0;
  std::uint64_t now = uv_now(uv_);
  timers_.expire(now, [this](std::uint64_t id, actor* owner) {
    envelope e;
    e.kind = envelope_kind::timer;
    e.target = acc::self(*owner);
    e.request_id = id;
    acc::box(*owner).push(std::move(e));
    schedule(*owner);
  });
  publish_timer_counts();
  asks_.expire(now, [this](std::uint64_t id, actor_ref owner) {
    core_.ask_timeouts.fetch_add(1, std::memory_order_relaxed);
    envelope e;
    e.emplace<ask_failure>(
        ask_failure{errc::ask_timeout, "no reply before the deadline"});
    e.kind = envelope_kind::reply;
    e.target = owner;
    e.request_id = id;
    post_local(std::move(e));
  });
  arm_timer();
}

void loop::deliver_reply(envelope& e) {
  pending_asks::record* r = asks_.find(e.request_id);
  if (r == nullptr) {
    core_.late_replies.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool is_timeout = e.type() == type_of<ask_failure>() &&
                    e.get<ask_failure>().code == errc::ask_timeout;
  if (r->timed_out && !is_timeout) {
    // The answer lost the race against the deadline; the timeout follows.
    core_.late_replies.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_asks::continuation cont = std::move(r->cont);
  asks_.erase(e.request_id);
  cont(e);
}

}  // namespace courier::detail
