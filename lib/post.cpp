// Routing of messages and replies: the non-template half of tell and ask.

#include "courier/detail/post.hpp"

#include "courier/actor.hpp"
#include "courier/ask.hpp"
#include "courier/detail/ask_state.hpp"

#include "actor_access.hpp"
#include "loop.hpp"
#include "registry.hpp"
#include "system_core.hpp"

#include <stdexcept>
#include <string>

namespace courier::detail {

namespace {

ask_state_base* waiter_of(const envelope& e) noexcept {
  return reinterpret_cast<ask_state_base*>(
      static_cast<std::uintptr_t>(e.request_id));
}

}  // namespace

void reply(envelope& request, envelope&& answer) noexcept {
  switch (request.mode) {
    case reply_mode::none:
      return;
    case reply_mode::actor:
      request.mode = reply_mode::none;
      answer.kind = envelope_kind::reply;
      answer.target = request.reply_to;
      answer.request_id = request.request_id;
      post(std::move(answer));
      return;
    case reply_mode::waiter: {
      request.mode = reply_mode::none;
      ask_state_base* st = waiter_of(request);
      if (!st->complete(std::move(answer))) {
        registry::guard g(st->origin_system);
        if (g.get() != nullptr) {
          g.get()->late_replies.fetch_add(1, std::memory_order_relaxed);
        }
      }
      st->release();
      return;
    }
  }
}

void reply_error(envelope& request, errc code, std::string_view what) noexcept {
  if (request.mode == reply_mode::none) {
    return;
  }
  envelope out;
  try {
    out.emplace<ask_failure>(ask_failure{code, std::string(what)});
  } catch (...) {
    out.emplace<ask_failure>(ask_failure{code, {}});
  }
  reply(request, std::move(out));
}

void drop_request(envelope& request) noexcept {
  reply_error(request, errc::broken_promise,
              "the request was dropped without an answer");
}

bool on_loop_thread() noexcept {
  return loop::current() != nullptr;
}

void take_current_request(envelope& shell) noexcept {
  loop* here = loop::current();
  envelope* cur = here != nullptr ? here->current_request() : nullptr;
  if (cur == nullptr || cur->mode == reply_mode::none) {
    return;
  }
  shell.reply_to = cur->reply_to;
  shell.request_id = cur->request_id;
  shell.mode = cur->mode;
  cur->mode = reply_mode::none;
}

void send_request(envelope&& request, std::chrono::milliseconds timeout,
                  ask_continuation&& cont) {
  loop* here = loop::current();
  if (here == nullptr || here->current_actor() == nullptr) {
    throw std::logic_error(
        "courier: actor::ask(...).then() must run inside an actor");
  }
  request.request_id = here->add_request(std::move(cont), timeout);
  request.reply_to = actor_access::self(*here->current_actor());
  request.mode = reply_mode::actor;
  post(std::move(request));
}

std::string bad_reply_message(type_id got, type_id expected) {
  return "expected a reply of type " + std::string(expected->name) + ", got " +
         std::string(got != nullptr ? got->name : "(none)");
}

actor_ref spawn_actor(system_core& sys, std::unique_ptr<actor> a,
                      const spawn_options& opts) {
  return sys.spawn(std::move(a), opts);
}

system_core& system_of(const actor& a) noexcept {
  return actor_access::home(const_cast<actor&>(a))->core();
}

}  // namespace courier::detail
