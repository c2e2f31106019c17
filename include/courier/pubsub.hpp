#pragma once

// The topic router: publish/subscribe on NATS-style subjects, with one
// ordered log per router (every event gets the router's next sequence
// number), a bounded history for replay and fetch, and a bound with a
// policy for slow subscribers.

#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/detail/envelope.hpp"
#include "courier/detail/type_id.hpp"
#include "courier/subject.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace courier {

class system;

/// Subscribe with T = any_payload to get every event of the pattern,
/// whatever its payload type, as an event_ref.
struct any_payload {};

namespace detail {

/// One published event: shared and immutable once the router stamped its
/// sequence number (fan-out copies a pointer, never the payload).
struct event_record {
  event_record() = default;
  event_record(const event_record&) = delete;
  event_record& operator=(const event_record&) = delete;
  virtual ~event_record() = default;
  virtual const void* payload() const noexcept = 0;

  std::uint64_t seq = 0;
  std::string subject;
  std::chrono::system_clock::time_point time;
  std::uint64_t steady_ms = 0;  // arrival at the router (its loop clock)
  type_id type = nullptr;
  std::size_t bytes = 0;  // estimated size, for the history's byte limit
};

template <class T>
struct typed_event_record final : event_record {
  template <class A>
  explicit typed_event_record(A&& v) : value(std::forward<A>(v)) {}
  const void* payload() const noexcept override { return &value; }
  T value;
};

using event_ptr = std::shared_ptr<const event_record>;

/// Estimated heap footprint of a payload: sizeof(T), plus the elements of a
/// string-like or vector-like payload.
template <class T>
std::size_t payload_bytes(const T& v) {
  if constexpr (requires {
                  v.size();
                  typename T::value_type;
                }) {
    return sizeof(T) + v.size() * sizeof(typename T::value_type);
  } else {
    return sizeof(T);
  }
}

/// Builds a record for `subject` (checked: std::invalid_argument).
template <class T>
std::shared_ptr<event_record> make_event(std::string_view subject,
                                         T&& payload) {
  check_subject(subject);
  using V = std::decay_t<T>;
  auto rec = std::make_shared<typed_event_record<V>>(std::forward<T>(payload));
  rec->subject.assign(subject);
  rec->time = std::chrono::system_clock::now();
  rec->type = type_of<V>();
  rec->bytes = sizeof(typed_event_record<V>) + subject.size() +
               payload_bytes(rec->value);
  return rec;
}

}  // namespace detail

/// What a subscriber receives: an event of the router's log, with its
/// subject, sequence number, publish time and payload. Cheap to copy (a
/// shared pointer); the payload is immutable.
template <class T>
class event {
 public:
  event() = default;
  explicit event(detail::event_ptr r) noexcept : rec_(std::move(r)) {}

  const std::string& subject() const noexcept { return rec_->subject; }
  /// The router-wide sequence number: a resume point for any pattern.
  std::uint64_t seq() const noexcept { return rec_->seq; }
  std::chrono::system_clock::time_point time() const noexcept {
    return rec_->time;
  }

  /// The payload (subscriptions of T get only payloads of type T).
  const T& payload() const noexcept requires(!std::is_same_v<T, any_payload>) {
    return *static_cast<const T*>(rec_->payload());
  }

  /// The payload as a U, or null when it has another type.
  template <class U>
  const U* get_if() const noexcept {
    return rec_->type == detail::type_of<U>()
               ? static_cast<const U*>(rec_->payload())
               : nullptr;
  }

  /// The payload's type name (as the compiler spells it).
  std::string_view type_name() const noexcept { return rec_->type->name; }

  bool valid() const noexcept { return rec_ != nullptr; }
  const detail::event_ptr& record() const noexcept { return rec_; }

 private:
  detail::event_ptr rec_;
};

/// An event of any payload type.
using event_ref = event<any_payload>;

/// What a subscription does when its bound of events in flight is reached.
enum class overflow_policy : std::uint8_t {
  drop_oldest,  ///< drop the oldest event still waiting, keep the new one
  drop_newest,  ///< drop the new event
  cancel,       ///< cancel the subscription and tell the subscriber
};

struct subscribe_options {
  /// Replay the matching events of history after this sequence number
  /// first, then continue live, with no gap and no duplicate. 0 replays
  /// all of history. Unset: live only.
  std::optional<std::uint64_t> since{};
  /// Events delivered but not handled yet, plus events waiting: at most
  /// this many (at least 1). Control messages are never counted.
  std::size_t max_in_flight = 10000;
  overflow_policy on_overflow = overflow_policy::drop_oldest;
};

/// Told to a subscriber before its replay when history no longer reaches
/// back to `since`: events first_available and later follow.
struct subscription_gap {
  std::uint64_t subscription = 0;
  std::string pattern;
  std::uint64_t since = 0;
  std::uint64_t first_available = 0;
};

/// Told to a subscriber whose subscription was cancelled by its overflow
/// policy. Nothing of that subscription follows it.
struct subscription_cancelled {
  std::uint64_t subscription = 0;
  std::string pattern;
  std::string reason;
};

/// The router's bounded history. An event leaves when any limit is
/// passed; 0 disables a limit (max_events has a floor of 1).
struct history_limits {
  std::size_t max_events = 100000;
  std::size_t max_bytes = std::size_t{64} << 20;
  std::chrono::milliseconds max_age{0};
};

struct router_config {
  history_limits history{};
  /// The loop of the router's own actor (default: next to the caller, as
  /// spawn_options{} places an actor).
  std::optional<std::uint16_t> loop{};
  /// Subjects counted one by one in router_stats; later ones are counted
  /// in the totals only.
  std::size_t max_tracked_subjects = 10000;
};

/// The answer to a fetch: the matching events after `since`, oldest
/// first, and the cursor to fetch from next.
struct fetch_result {
  std::vector<event_ref> events;
  /// Pass it as `since` next time: the last sequence number looked at.
  std::uint64_t next = 0;
  /// True when history no longer reaches back to `since` (events from
  /// first_available on are returned).
  bool reset = false;
  std::uint64_t first_available = 0;
  std::uint64_t last = 0;  ///< the router's last sequence number
};

struct subject_stats {
  std::string subject;
  std::uint64_t published = 0;
  std::uint64_t routed = 0;   ///< events x matching subscriptions
  std::uint64_t dropped = 0;  ///< dropped by overflow policies
};

struct subscription_stats {
  std::uint64_t id = 0;
  std::string pattern;
  actor_ref subscriber;
  overflow_policy policy = overflow_policy::drop_oldest;
  std::size_t max_in_flight = 0;
  std::uint64_t delivered = 0;  ///< handed to the subscriber
  std::uint64_t dropped = 0;
  std::uint64_t skipped = 0;  ///< matching events of another payload type
  std::uint64_t in_flight = 0;
};

struct router_stats {
  std::string epoch;
  std::uint64_t published = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  std::uint64_t history_events = 0;
  std::uint64_t history_bytes = 0;
  std::uint64_t first_seq = 0;  ///< oldest event in history (0: none)
  std::uint64_t last_seq = 0;   ///< last sequence number given
  std::vector<subject_stats> subjects;
  std::vector<subscription_stats> subscriptions;
};

/// Messages the router actor answers, for asks from inside actors:
/// ask<fetch_result>(r.ref(), fetch_request{...}) and
/// ask<router_stats>(r.ref(), get_router_stats{}).
struct fetch_request {
  std::string pattern;
  std::uint64_t since = 0;
  std::size_t max = 100;
};
struct get_router_stats {};

namespace detail {

using make_event_message = void (*)(envelope& out, const event_ptr& rec);

template <class T>
void make_event_envelope(envelope& out, const event_ptr& rec) {
  out.emplace<event<T>>(rec);
}

struct publish_message {
  std::shared_ptr<event_record> record;
};
struct subscribe_message {
  std::uint64_t id = 0;
  std::string pattern;
  actor_ref subscriber;
  subscribe_options options;
  type_id filter = nullptr;  // null: any payload type
  make_event_message make = nullptr;
};
struct unsubscribe_message {
  std::uint64_t id = 0;
};

struct router_state {
  actor_ref actor;
  std::string name;
  std::string epoch;
  std::atomic<std::uint64_t> next_subscription{1};
};

}  // namespace detail

/// A subscription handle (copyable). unsubscribe() works from any thread.
class subscription {
 public:
  subscription() = default;
  std::uint64_t id() const noexcept { return id_; }
  const std::string& pattern() const noexcept { return pattern_; }
  bool valid() const noexcept { return id_ != 0; }
  /// Ends the subscription; events not handled yet are not delivered.
  void unsubscribe() const;

 private:
  friend class router;
  subscription(actor_ref router, std::uint64_t id, std::string pattern)
      : router_(router), id_(id), pattern_(std::move(pattern)) {}
  actor_ref router_{};
  std::uint64_t id_ = 0;
  std::string pattern_;
};

/// A handle to a router (copyable, cheap). Everything here works from any
/// thread; the blocking calls (fetch, stats) fail on a loop thread with
/// errc::blocking_on_loop, where actors ask ref() instead.
class router {
 public:
  router() = default;

  /// The system's default router, started on first use.
  static router of(system& sys);
  /// The router called `name` (its own log), started on first use with
  /// `cfg` (later calls return it and ignore `cfg`).
  static router named(system& sys, std::string_view name,
                      router_config cfg = {});

  /// Publishes `payload` on `subject`; never waits for subscribers.
  /// Throws std::invalid_argument for an invalid subject (a wildcard, an
  /// empty token, whitespace).
  template <class T>
  void publish(std::string_view subject, T&& payload) const {
    state_->actor.tell(detail::publish_message{
        detail::make_event(subject, std::forward<T>(payload))});
  }

  /// Subscribes `subscriber` to the events matching `pattern` whose
  /// payload is a T (any payload with T = any_payload); it receives
  /// event<T>. Throws std::invalid_argument for an invalid pattern. The
  /// subscription ends by unsubscribe(), its overflow policy, or when the
  /// subscriber stops.
  template <class T = any_payload>
  subscription subscribe(std::string_view pattern, actor_ref subscriber,
                         subscribe_options opts = {}) const {
    check_pattern(pattern);
    std::uint64_t id = state_->next_subscription.fetch_add(1);
    detail::subscribe_message m;
    m.id = id;
    m.pattern.assign(pattern);
    m.subscriber = subscriber;
    m.options = opts;
    if constexpr (!std::is_same_v<T, any_payload>) {
      m.filter = detail::type_of<T>();
    }
    m.make = &detail::make_event_envelope<T>;
    state_->actor.tell(std::move(m));
    return subscription(state_->actor, id, std::string(pattern));
  }

  void unsubscribe(const subscription& s) const { s.unsubscribe(); }

  /// The matching events after `since` (at most `max`), at once.
  fetch_result fetch(std::string_view pattern, std::uint64_t since,
                     std::size_t max = 100, ask_options opts = {}) const;

  /// A snapshot of the counters.
  router_stats stats(ask_options opts = {}) const;

  /// The router actor: answers fetch_request and get_router_stats asks,
  /// and takes the messages publish() and subscribe() send.
  actor_ref ref() const noexcept { return state_->actor; }

  /// Changes each time a router starts afresh: a sequence number is a
  /// resume point only within one epoch.
  const std::string& epoch() const noexcept { return state_->epoch; }
  const std::string& name() const noexcept { return state_->name; }

  bool valid() const noexcept { return state_ != nullptr; }

 private:
  explicit router(std::shared_ptr<detail::router_state> s)
      : state_(std::move(s)) {}
  std::shared_ptr<detail::router_state> state_;
};

/// A poller sink (see poll.hpp) that publishes each value on `subject`.
template <class T>
auto publish_to(router r, std::string subject) {
  check_subject(subject);
  return [r = std::move(r), subject = std::move(subject)](const T& v) {
    r.publish(subject, v);
  };
}

}  // namespace courier
