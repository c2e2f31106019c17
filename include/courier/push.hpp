#pragma once

// Push over HTTP from a pub/sub router: Server-Sent Events streams and long
// polling, mounted on an HTTP edge with one call, resumable without loss
// while the router's history holds. Link courier::http.
//
//   GET  /sse/{pattern}[?since=ID]          text/event-stream
//   GET  /poll/{pattern}?since=ID&timeout=S&max=N
//   POST /publish/{subject}                 (off unless enabled)
//
// An event id is "<epoch>-<seq>": the router's epoch and the event's
// sequence number, so an id from before a restart is never mistaken for a
// new one. See the README's "Push: SSE and long polling" section.

#include "courier/http.hpp"
#include "courier/pubsub.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace courier {
class system;
}

namespace courier::http {

/// Turns an event's payload into the JSON a client sees (SSE `data:` is
/// its text; a string payload is sent as is). Built in: nlohmann::json
/// and std::string payloads; add others with encode_as_json<T>() or
/// encode<T>(f). Events of a payload type with no encoder are skipped
/// (and counted).
class push_codec {
 public:
  using encoder = std::function<nlohmann::json(const void* payload)>;

  push_codec();

  /// Payloads of type T go out as nlohmann::json(value).
  template <class T>
  push_codec& encode_as_json() {
    return encode<T>([](const T& v) { return nlohmann::json(v); });
  }
  /// Payloads of type T go out as f(value).
  template <class T, class F>
  push_codec& encode(F f) {
    encoders_[courier::detail::type_of<T>()] =
        [f = std::move(f)](const void* p) {
          return nlohmann::json(f(*static_cast<const T*>(p)));
        };
    return *this;
  }

  /// Payloads nested deeper than this (arrays and objects) are not
  /// encoded: their events are sent with null data. Dumping or copying a
  /// document recurses per level, so an unbounded one could overflow the
  /// stack.
  push_codec& max_depth(std::size_t depth) {
    max_depth_ = depth;
    return *this;
  }

  /// True when an encoder knows payloads of type `t`.
  bool knows(courier::detail::type_id t) const { return encoders_.contains(t); }
  /// The payload of `rec` as JSON, or nullopt when no encoder knows it.
  std::optional<nlohmann::json> to_json(
      const courier::detail::event_record& rec) const;
  /// The SSE data text: a string payload as is, anything else as its JSON
  /// text; nullopt when no encoder knows the payload.
  std::optional<std::string> to_text(
      const courier::detail::event_record& rec) const;

 private:
  std::unordered_map<courier::detail::type_id, encoder> encoders_;
  std::size_t max_depth_ = 64;
};

/// Settings of a push mount; every limit has a safe default.
struct push_config {
  /// Path prefixes; the pattern or subject is the one segment after it.
  std::string sse_path = "/sse/";
  std::string poll_path = "/poll/";
  std::string publish_path = "/publish/";

  /// Serve POST {publish_path}{subject}. Off by default.
  bool publish = false;
  /// When not empty, publishing needs `Authorization: Bearer <token>`.
  std::string publish_token{};
  /// Largest body a publish accepts (the server's max_body_bytes applies
  /// first).
  std::size_t max_publish_bytes = 256 * 1024;
  /// Nesting depth a published JSON body may have (400 past it).
  std::size_t max_json_depth = 64;

  /// SSE: the `event:` field. "{subject}" sends the event's subject; ""
  /// sends none (browsers then dispatch "message"); anything else is sent
  /// as is.
  std::string event_name = "{subject}";
  /// SSE: `retry:` sent on open (0: none).
  std::chrono::milliseconds retry{3000};
  /// SSE: a comment line on streams that wrote nothing for this long.
  std::chrono::milliseconds heartbeat{15000};
  /// SSE: open streams at most (503 past it).
  std::size_t max_streams = 10000;
  /// SSE: bytes waiting to be written to one client before it counts as
  /// slow and is disconnected (it resumes with Last-Event-ID).
  std::size_t max_stream_buffer = 1024 * 1024;
  /// SSE: events per history fetch while a stream replays.
  std::size_t replay_batch = 1000;

  /// Long polling: waiters at most (503 past it).
  std::size_t max_waiters = 10000;
  /// Long polling: `timeout` when the request has none, and its cap.
  std::chrono::milliseconds poll_timeout{30000};
  std::chrono::milliseconds max_poll_timeout{120000};
  /// Long polling: `max` when the request has none, and its cap.
  std::size_t poll_max = 100;
  std::size_t max_poll_max = 1000;
  /// Long polling: an answer stops taking events once its body is this
  /// large (it always holds one); `next` then resumes after the last
  /// event sent. Bounds the memory one poll can make the server hold.
  std::size_t max_poll_bytes = 1024 * 1024;

  /// Recent events kept per pattern, so that a stream that ends its
  /// replay or a waiter that parks does not need another fetch.
  std::size_t recent_events = 1024;
  /// A pattern nobody streams or waits on is unsubscribed after this.
  std::chrono::milliseconds linger{30000};
  /// How long a history fetch or a publish may take.
  std::chrono::milliseconds router_timeout{5000};

  push_codec codec{};
};

/// Counters of a push mount, also served at the edge's /metrics.
struct push_stats {
  std::uint64_t streams_open = 0;
  std::uint64_t streams_opened = 0;
  std::uint64_t streams_resumed = 0;   ///< opened with a resume point
  std::uint64_t events_written = 0;    ///< SSE events, replay included
  std::uint64_t bytes_written = 0;     ///< SSE bytes, heartbeats included
  std::uint64_t slow_disconnects = 0;  ///< streams cut for a full buffer
  std::uint64_t resets = 0;            ///< reset events and reset answers
  std::uint64_t heartbeats = 0;
  std::uint64_t waiters = 0;  ///< long polls held now
  std::uint64_t poll_responses = 0;
  std::uint64_t poll_timeouts = 0;  ///< held polls answered empty
  std::uint64_t published = 0;      ///< through POST /publish
  std::uint64_t skipped = 0;        ///< events no encoder knew
  std::uint64_t patterns = 0;       ///< patterns subscribed now
};

/// A push mount: SSE, long polling and publishing on an HTTP edge, fed by
/// one router. Copyable handle; its methods work from any thread.
class push {
 public:
  push() = default;

  /// Adds the push routes to `r` and starts the push actor on the loop of
  /// `server_cfg` (setting it when unset: the edge and the push actor
  /// share a loop, so events go to sockets without crossing threads).
  /// Also adds the push counters to the server's /metrics. Start the
  /// server with the same `server_cfg` and `r`.
  static push mount(system& sys, server_config& server_cfg, routes& r,
                    courier::router source, push_config cfg = {});

  /// A snapshot of the counters. Blocks; not on a loop thread.
  push_stats stats() const;

  /// Ends every open SSE stream now (the clients reconnect and resume
  /// with Last-Event-ID); waiters are not touched.
  void drop_streams() const;

  actor_ref ref() const noexcept { return ref_; }

 private:
  actor_ref ref_{};
};

/// The event id "<epoch>-<seq>" (what SSE `id:` and long-poll cursors
/// carry); with the router's last seq, a cursor that starts "from there".
std::string event_id(std::string_view epoch, std::uint64_t seq);

/// Parses an event id "<epoch>-<seq>"; false when malformed.
bool parse_event_id(std::string_view id, std::string& epoch,
                    std::uint64_t& seq);

}  // namespace courier::http
