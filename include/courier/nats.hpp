#pragma once

// The NATS bridge (courier::nats): mirrors chosen subjects of a local
// router to a NATS server and back, so that actor graphs in several
// processes or machines share topics. Built only when libnats is found
// (CMake option COURIER_WITH_NATS).
//
// Guarantees (NATS core is at-most-once, and so is the bridge):
// - An exported event is handed to the NATS client once. While connected
//   it goes to the server; while the client reconnects it goes to the
//   reconnect buffer (reconnect_buffer_bytes) and is sent after the
//   reconnect; when that buffer is full, or before the first connect, or
//   after close, it is counted in dropped_export. Nothing is dropped
//   silently, but what the server accepted and no subscriber was
//   listening for is gone, as in NATS.
// - Events written to a connection the client does not know is dead yet
//   (between a server crash and its detection) are lost by TCP; the bridge
//   cannot count them.
// - No echo: messages carrying this bridge's origin id are dropped on
//   import (echo_dropped), and events the bridge imported are never
//   exported again.

#include "courier/prometheus_writer.hpp"
#include "courier/pubsub.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace courier {

class system;

namespace nats {

/// Where the bridge's connection stands.
enum class bridge_state : std::uint8_t {
  connecting,    ///< never connected yet: retrying with backoff
  connected,     ///< connected to a server
  reconnecting,  ///< lost the server: the client reconnects, buffering
  closed,        ///< stopped, or the client gave up reconnecting
};

const char* to_string(bridge_state s) noexcept;

/// An exported event as bytes: its body and Content-Type.
struct encoded_payload {
  std::string content_type;
  std::string body;
};

struct bridge_config {
  /// NATS server URLs ("nats://127.0.0.1:4222"); the client picks one.
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  /// Router patterns whose local events are published to NATS.
  std::vector<std::string> exports{};
  /// NATS subjects or patterns (same `*` and `>`) whose messages are
  /// published into the local router.
  std::vector<std::string> imports{};
  /// Local subject S is NATS subject prefix + S ("site1." for example;
  /// must end with a dot when not empty). Imports are given as local
  /// patterns too; a NATS message outside the prefix is ignored.
  std::string prefix{};
  /// The client's reconnect after a lost connection: attempts (-1:
  /// forever), wait between attempts, and the bytes buffered meanwhile.
  int max_reconnect = -1;
  std::chrono::milliseconds reconnect_wait{250};
  int reconnect_buffer_bytes = 8 << 20;
  /// The first connect: retried with backoff from retry_min, doubling up
  /// to retry_max, until it succeeds or the bridge stops.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5000};
  /// The connect timeout of one attempt.
  std::chrono::milliseconds connect_timeout{2000};
  /// The loop of the bridge actor (default: next to the caller, as
  /// spawn_options{} places an actor).
  std::optional<std::uint16_t> loop{};
  /// Sent as Courier-Origin; empty: a random id.
  std::string origin{};
  /// Encodes payloads other than nlohmann::json and std::string; return
  /// nullopt to refuse (counted in dropped_export).
  std::function<std::optional<encoded_payload>(const event_ref&)> encode{};
};

/// Counters of a bridge (a snapshot).
struct bridge_stats {
  bridge_state state = bridge_state::connecting;
  std::uint64_t exported = 0;  ///< handed to the client (sent or buffered)
  std::uint64_t imported = 0;  ///< published into the local router
  std::uint64_t dropped_export = 0;  ///< refused: not connected, buffer full
  std::uint64_t echo_dropped = 0;    ///< own messages seen on import
  std::uint64_t slow_consumer = 0;   ///< slow consumer errors of the client
  std::uint64_t reconnects = 0;
  std::uint64_t connect_attempts = 0;  ///< first-connect attempts
  std::string last_error{};
};

namespace detail {
struct bridge_shared;
}

/// A handle to a running bridge (copyable). Everything here works from
/// any thread, loops included (the counters are atomics).
class bridge {
 public:
  bridge() = default;

  /// Spawns the bridge actor on `sys`; it connects in the background.
  static bridge start(system& sys, router r, bridge_config cfg);

  bridge_stats stats() const;
  /// Adds the counters (courier_nats_*) to `w`: a producer for
  /// http::server_config::metrics_producers.
  void metrics(prometheus_writer& w) const;
  /// The same counters as an exposition of their own.
  std::string metrics_text() const;
  const std::string& origin() const noexcept;
  /// Stops the bridge actor, which closes the connection.
  void stop() const;

  bool valid() const noexcept { return shared_ != nullptr; }

 private:
  explicit bridge(std::shared_ptr<detail::bridge_shared> s, actor_ref a)
      : shared_(std::move(s)), actor_(a) {}
  std::shared_ptr<detail::bridge_shared> shared_;
  actor_ref actor_{};
};

}  // namespace nats
}  // namespace courier
