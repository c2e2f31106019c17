// The public timer API: courier::timer and the actor's timer functions,
// forwarded to the timer table of the owner's loop.

#include "courier/timer.hpp"

#include "courier/actor.hpp"

#include "actor_access.hpp"
#include "loop.hpp"
#include "system_core.hpp"

#include <stdexcept>

namespace courier {

namespace {

using detail::actor_access;

detail::loop& owner_loop(const actor& owner) {
  detail::loop* l = actor_access::home(const_cast<actor&>(owner));
  if (l == nullptr || l != detail::loop::current()) {
    throw std::logic_error(
        "courier: an actor's timers are used on its own loop only");
  }
  return *l;
}

detail::loop& loop_of(actor_ref owner) {
  detail::loop* l = detail::loop::current();
  if (l == nullptr || !owner.valid() ||
      detail::system_core::system_of(owner) != l->core().id() ||
      owner.loop() != l->index()) {
    throw std::logic_error(
        "courier: a timer handle is used on its actor's loop only");
  }
  return *l;
}

}  // namespace

bool timer::cancel() {
  if (id_ == 0) {
    return false;
  }
  return loop_of(owner_).cancel_timer(id_);
}

bool timer::active() const {
  if (id_ == 0) {
    return false;
  }
  return loop_of(owner_).timer_active(id_);
}

namespace detail {

timer start_timer(actor& owner, std::string_view key, std::uint64_t delay_ms,
                  std::uint64_t period_ms,
                  std::unique_ptr<timer_action> action) {
  std::uint64_t id = owner_loop(owner).add_timer(owner, key, delay_ms,
                                                 period_ms, std::move(action));
  return timer_access::make(id == 0 ? actor_ref{} : actor_access::self(owner),
                            id);
}

bool cancel_keyed_timer(actor& owner, std::string_view key) {
  loop& l = owner_loop(owner);
  std::uint64_t id = l.keyed_timer(owner, key);
  return id != 0 && l.cancel_timer(id);
}

bool keyed_timer_active(const actor& owner, std::string_view key) {
  loop& l = owner_loop(owner);
  return l.keyed_timer(const_cast<actor&>(owner), key) != 0;
}

void cancel_all_timers(actor& owner) {
  owner_loop(owner).cancel_timers_of(owner);
}

}  // namespace detail
}  // namespace courier
