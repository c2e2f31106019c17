#pragma once

// The HTTP client: an actor that makes HTTP/1.1 requests on its loop
// (libuv TCP, uv_getaddrinfo, http_parser), reusing keep-alive connections
// per host:port. Link courier::http.

#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/http.hpp"
#include "courier/poll.hpp"
#include "courier/sse.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace courier {
class system;
}

namespace courier::http {

/// A request for the client. `url` is http://host[:port][/path][?query]
/// (no TLS).
struct client_request {
  std::string method = "GET";
  std::string url{};
  http::headers headers{};
  std::string body{};
  /// From the start of the request to the end of the response.
  std::chrono::milliseconds timeout{30000};
};

struct client_response {
  int status = 0;
  http::headers headers;
  std::string body;
};

/// Why a request failed (no response).
enum class client_error : std::uint8_t {
  none,
  bad_url,         ///< not http://host[:port]/...
  resolve_failed,  ///< uv_getaddrinfo found no address
  connect_failed,  ///< refused, unreachable, or past connect_timeout
  timeout,         ///< no complete response within the request's timeout
  too_large,       ///< the response is larger than max_response_bytes
  protocol,        ///< the peer sent something that is not HTTP
  closed,          ///< the connection closed before the response ended
  /// The name resolved to an address that client_config refuses
  /// (deny_private_addresses); no connection was made.
  address_denied,
};

const char* to_string(client_error e) noexcept;

/// What the client actor answers to a client_request ask: a response, or
/// an error with a message.
struct client_result {
  std::optional<client_response> response;
  client_error error = client_error::none;
  std::string message;
};

struct client_config {
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t max_response_bytes = 16 * 1024 * 1024;
  /// Idle keep-alive connections per host:port, and how long they stay.
  std::size_t max_idle_per_host = 8;
  std::chrono::milliseconds idle_timeout{30000};
  /// The loop of the client actor (default: next to the caller, as
  /// spawn_options{} places an actor).
  std::optional<std::uint16_t> loop{};
  /// Refuse to connect to an address that is not public (see
  /// is_public_address()): the request fails with address_denied. The
  /// check is on the address that name resolution gave, the one the
  /// socket connects to, so `localhost` or a DNS name that points at
  /// 10.0.0.1 is refused too. Turn it on for URLs that users supply
  /// (webhooks), against server-side request forgery.
  bool deny_private_addresses = false;
};

/// True when `address`, a numeric IPv4 or IPv6 address, is public: not
/// unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), private (10/8,
/// 172.16/12, 192.168/16, 100.64/10, fc00::/7), link-local (169.254/16,
/// fe80::/10), multicast (224/4, ff00::/8), reserved (240/4) or for
/// documentation and benchmarks. IPv4-mapped, NAT64 and 6to4 addresses
/// are judged by the IPv4 address inside. Text that is not a numeric
/// address is not public.
bool is_public_address(std::string_view address) noexcept;

/// The failure of a blocking request.
class client_failure : public std::runtime_error {
 public:
  client_failure(client_error e, const std::string& what)
      : std::runtime_error(what), error_(e) {}
  client_error error() const noexcept { return error_; }

 private:
  client_error error_;
};

/// A handle to a client actor (copyable).
class client {
 public:
  client() = default;
  static client start(system& sys, client_config cfg = {});

  /// Blocking (not on a loop thread): the response, whatever its status;
  /// throws client_failure when there is none.
  client_response request(client_request req) const;
  client_response get(std::string url) const {
    client_request r;
    r.url = std::move(url);
    return request(std::move(r));
  }

  /// The client actor: ask it with a client_request for a client_result
  /// (from actors: ask<client_result>(c.ref(), req).then(...)).
  actor_ref ref() const noexcept { return ref_; }

 private:
  actor_ref ref_{};
};

/// A poll source (see poll.hpp) that GETs `url` on each poll: a 2xx body
/// is the value; another status or a client error is a failure.
inline poll_source<std::string> get_source(
    client c, std::string url,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  return poll_source<std::string>([c, url = std::move(url),
                                   timeout](poll_completion<std::string> done) {
    client_request req;
    req.url = url;
    req.timeout = timeout;
    courier::detail::pending_ask_access::make<client_result>(
        c.ref(), std::move(req), timeout + std::chrono::seconds(1))
        .then(
            [done](client_result r) {
              if (!r.response) {
                done.fail(std::string(to_string(r.error)) + ": " + r.message);
              } else if (r.response->status / 100 != 2) {
                done.fail("HTTP " + std::to_string(r.response->status));
              } else {
                done.succeed(std::move(r.response->body));
              }
            },
            [done](const ask_error& e) { done.fail(e.what()); });
  });
}

/// What an SSE reader tells its target besides the events.
struct sse_status {
  enum state_kind : std::uint8_t {
    open,          ///< connected; events follow
    reconnecting,  ///< the stream ended or failed; a reconnect follows
    failed,        ///< a non-200 status or another content type: stopped
  };
  state_kind state = open;
  int http_status = 0;
  std::string message;
};

struct sse_reader_config {
  std::string url{};  ///< http://host[:port]/path
  /// Gets an sse_event per event, and sse_status on each change.
  actor_ref target{};
  http::headers headers{};
  /// The Last-Event-ID of the first connection (empty: none).
  std::string last_event_id{};
  /// The wait before a reconnect, until the stream sets `retry:`.
  std::chrono::milliseconds reconnect{3000};
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t max_line = 1 << 20;
  std::optional<std::uint16_t> loop{};
};

/// An EventSource for C++: an actor that reads a text/event-stream and
/// tells each event to an actor, reconnecting with Last-Event-ID when the
/// stream ends or breaks, as browsers do (WHATWG rules: a status other
/// than 200, or another Content-Type, fails the stream for good).
class sse_reader {
 public:
  sse_reader() = default;
  /// Throws std::invalid_argument for a URL that is not http://.
  static sse_reader start(system& sys, sse_reader_config cfg);
  actor_ref ref() const noexcept { return ref_; }

 private:
  actor_ref ref_{};
};

/// One event of a long-poll response.
struct long_poll_event {
  std::string id;  ///< the cursor after this event
  std::string subject;
  nlohmann::json data;
};

/// Told to the target when a poll response says `"reset": true` (the
/// cursor was older than the server's history, or from another epoch).
struct long_poll_reset {
  std::string next;
};

struct long_poll_config {
  /// The poll URL without its query, e.g. http://host:8080/poll/orders.>
  std::string url{};
  actor_ref target{};  ///< gets long_poll_event and long_poll_reset
  /// The first cursor (empty: from now).
  std::string since{};
  /// How long the server may hold each poll (the `timeout` parameter).
  std::chrono::seconds hold{25};
  std::size_t max = 100;  ///< the `max` parameter
  /// After a failed poll: first wait, doubled up to the cap.
  std::chrono::milliseconds backoff{500};
  std::chrono::milliseconds backoff_cap{30000};
  std::optional<std::uint16_t> loop{};
};

/// The long-poll loop: GETs url?since=CURSOR&timeout=HOLD&max=MAX through
/// `c`, tells each event of the response {"events": [{"id", "subject",
/// "data"}], "next": ID, "reset": bool} to the target in order, and
/// re-polls at once with "next" as the cursor. A failed poll (no
/// response, a non-2xx status, a body that is not that JSON) is retried
/// with backoff. Stop it with system::stop(ref()).
class long_poll_reader {
 public:
  static long_poll_reader start(system& sys, client c, long_poll_config cfg);
  actor_ref ref() const noexcept { return ref_; }

 private:
  actor_ref ref_{};
};

}  // namespace courier::http
