#pragma once

// lib/'s access to the runtime fields and hooks of courier::actor.

#include "courier/actor.hpp"

namespace courier::detail {

enum actor_state : std::uint8_t { created, running, stopping, dead };

struct actor_access {
  static behavior& current(actor& a) noexcept { return a.behavior_; }
  static mailbox& box(actor& a) noexcept { return a.mailbox_; }
  static loop*& home(actor& a) noexcept { return a.loop_; }
  static actor*& next_ready(actor& a) noexcept { return a.next_ready_; }
  static actor_ref& self(actor& a) noexcept { return a.self_; }
  static std::uint8_t& state(actor& a) noexcept { return a.state_; }
  static std::uint32_t& timers(actor& a) noexcept { return a.timers_; }
  static bool& watched(actor& a) noexcept { return a.watched_; }
  static bool& scheduled(actor& a) noexcept { return a.scheduled_; }
  static courier::behavior make_behavior(actor& a) { return a.behavior(); }
  static void on_start(actor& a) { a.on_start(); }
  static void on_stop(actor& a) { a.on_stop(); }
};

}  // namespace courier::detail
