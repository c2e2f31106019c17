#pragma once

// Runtime hooks for the pub/sub router's delivery actors (router shards).

#include "courier/actor.hpp"

#include <cstdint>

namespace courier::detail {

/// An actor that hands events to subscribers on its own loop. The loop
/// calls accept_event() when an event envelope it sent (reply_to = the
/// feed, request_id = the subscription) is about to be handled: false
/// means the subscription ended, and the event is skipped.
class event_feed : public actor {
 public:
  virtual bool accept_event(std::uint64_t subscription) noexcept = 0;
};

/// Hears, on its loop, of the stop of any actor of that loop marked with
/// loop::watch().
class stop_watcher {
 public:
  virtual void actor_stopped(actor_ref who) noexcept = 0;

 protected:
  ~stop_watcher() = default;
};

}  // namespace courier::detail
