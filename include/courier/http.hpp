#pragma once

// The HTTP edge: an HTTP/1.1 server that runs as an actor on a courier
// loop (libuv TCP, the nodejs http_parser), with routes that answer
// requests directly or by asking actors. Link courier::http.

#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/error.hpp"
#include "courier/prometheus_writer.hpp"
#include "courier/pubsub.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace courier {
class system;
}

namespace courier::http {

/// Header fields in arrival order; names compare case-insensitively.
class headers {
 public:
  /// The first value of `name`, or null.
  const std::string* find(std::string_view name) const noexcept;
  /// The first value of `name`, or "".
  std::string_view get(std::string_view name) const noexcept;
  /// Replaces every field `name` with one.
  void set(std::string_view name, std::string_view value);
  /// Adds a field (keeps the others of that name).
  void add(std::string_view name, std::string_view value);
  bool contains(std::string_view name) const noexcept {
    return find(name) != nullptr;
  }
  /// Removes every field (keeps the storage for reuse).
  void clear() noexcept { fields_.clear(); }
  const std::vector<std::pair<std::string, std::string>>& fields()
      const noexcept {
    return fields_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

/// A parsed request. `path` is percent-decoded; `query` holds the decoded
/// query parameters in order; `params` the route's named parameters.
struct request {
  std::string method;  ///< as sent: "GET", "POST", ...
  std::string target;  ///< the raw request target
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> params;
  http::headers headers;
  std::string body;
  int version_minor = 1;  ///< HTTP/1.x

  /// The query parameter `name` (first one), or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;
  /// The route parameter `name` ("" when absent).
  std::string_view param(std::string_view name) const noexcept;
};

/// A response. The server adds Date, Server, Content-Length and
/// Connection; a HEAD request gets the headers without the body.
struct response {
  int status = 200;
  http::headers headers;
  std::string body;

  static response text(int status, std::string body,
                       std::string_view content_type =
                           "text/plain; "
                           "charset=utf-8");
  static response json(int status, const nlohmann::json& body);
  /// The stable error shape: {"error": {"status": N, "message": "..."}}.
  /// Never throws: bytes of `message` that are not UTF-8 become U+FFFD.
  static response error(int status, std::string_view message) noexcept;
};

/// Why a stream ended.
enum class stream_end : std::uint8_t {
  client_closed,   ///< the client went away (or a write failed)
  slow_client,     ///< more than max_buffer bytes were waiting to be written
  closed,          ///< stream::close() was called
  server_stopped,  ///< the server stopped
};

/// A response body written over time (Server-Sent Events): the head goes
/// out when the responses before it on the connection have, then every
/// write() follows it, and the connection carries nothing else. Copyable
/// handle. Thread safety: the edge's loop only.
class stream {
 public:
  stream() = default;

  /// Queues `bytes` behind what is already waiting; the buffer is shared,
  /// never copied, so one encoded event can go to many streams. Writes
  /// of one turn of the loop, and those that pile up while the socket is
  /// busy, leave together in one write when the turn ends.
  /// Returns false when the stream has ended, or ends it (slow_client)
  /// when more than max_buffer bytes would be waiting.
  bool write(std::shared_ptr<const std::string> bytes) const;
  bool write(std::string bytes) const;
  /// Ends the stream: what is queued is written, then the connection
  /// closes.
  void close() const;
  bool open() const noexcept;
  /// Bytes queued or being written.
  std::size_t buffered() const noexcept;

  struct state;
  explicit stream(std::shared_ptr<state> s) : state_(std::move(s)) {}

 private:
  std::shared_ptr<state> state_;
};

struct stream_options {
  /// Bytes that may wait to be written before the client counts as slow
  /// and is disconnected.
  std::size_t max_buffer = 1024 * 1024;
  /// Runs once, on the edge's loop, when the stream ends (not when
  /// close() ends it).
  std::function<void(stream_end)> on_end{};
  /// Runs on the edge's loop each time everything queued has been
  /// written: a producer that writes in bursts (a replay) writes its next
  /// burst then.
  std::function<void()> on_drain{};
};

/// A reply that is JSON text already: an actor that renders or caches
/// its own representation answers with it, and an ask route sends it as
/// application/json as is, with no document built or serialized on the
/// edge. The actor is trusted to send valid JSON.
struct json_text {
  std::string text;
};

/// Answers one request, now or later (after an ask). Copyable; the first
/// send() (or start_stream()) wins. Thread safety: the edge's loop (route
/// handlers and ask continuations run there).
class responder {
 public:
  void send(response r) const;
  /// Answers with `body` as application/json. The body is serialized
  /// straight into the connection's output, with no response object in
  /// between (the fast path of ask routes). A body that cannot be
  /// serialized (invalid UTF-8) gets a 500.
  void send_json(int status, const nlohmann::json& body) const;
  /// Answers with `body` and its Content-Type, written straight into the
  /// connection's output like send_json() (no response object).
  void send_body(int status, std::string_view body,
                 std::string_view content_type) const;
  /// Answers with `head` (status and headers; no Content-Length is sent
  /// and the body follows through the stream until it ends, which closes
  /// the connection). Requests pipelined behind it are not answered. The
  /// returned stream is closed when the request was already answered.
  stream start_stream(response head, stream_options opts = {}) const;
  /// The request was answered or its connection closed.
  bool done() const noexcept;
  /// Runs `f` once if the connection closes before the request is
  /// answered (a client that gave up waiting), on the edge's loop.
  void on_abandon(std::function<void()> f) const;

  struct state;
  explicit responder(std::shared_ptr<state> s) : state_(std::move(s)) {}

 private:
  std::shared_ptr<state> state_;
};

/// A route handler: runs on the edge's loop, in the edge actor's context
/// (so it may ask actors with then()), and answers through the responder.
using handler = std::function<void(request&, responder)>;

/// How an ask failure becomes a response: timeout 504, dead target 503,
/// handler threw 500 (the detail only with server_config::expose_errors),
/// anything else 500.
response error_response(const ask_error& e, bool expose_detail);

namespace detail {
bool expose_errors_here() noexcept;
/// Answers 500 for a reply that could not be turned into a response
/// (the message only when the server exposes errors).
void send_failure(const responder& out, const std::exception& e);
template <class R>
void send_reply(const responder& out, R&& reply) {
  using T = std::decay_t<R>;
  if constexpr (std::is_same_v<T, response>) {
    out.send(std::forward<R>(reply));
  } else if constexpr (std::is_same_v<T, std::string>) {
    out.send_body(200, reply, "text/plain; charset=utf-8");
  } else if constexpr (std::is_same_v<T, json_text>) {
    out.send_body(200, reply.text, "application/json");
  } else {
    out.send_json(200, nlohmann::json(std::forward<R>(reply)));
  }
}
}  // namespace detail

/// A route that asks `target` with to_message(request) and answers with
/// to_response(reply).
template <class R, class ToMessage, class ToResponse>
requires std::is_invocable_r_v<response, ToResponse&, R> handler
ask_route(actor_ref target, ToMessage to_message, ToResponse to_response,
          std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  return [target, to_message = std::move(to_message),
          to_response = std::move(to_response),
          timeout](request& req, responder out) {
    courier::detail::pending_ask_access::make<R>(target, to_message(req),
                                                 timeout)
        .then(
            [out, to_response](R reply) mutable {
              try {
                out.send(to_response(std::move(reply)));
              } catch (const std::exception& e) {
                detail::send_failure(out, e);
              }
            },
            [out](const ask_error& e) {
              out.send(error_response(e, detail::expose_errors_here()));
            });
  };
}

/// A route that asks `target` with to_message(request) and answers with
/// the reply: a `response` as is, a std::string as text, a json_text as
/// application/json, anything else through its nlohmann::json conversion
/// (application/json). The request
/// fails with error_response() when the ask does.
template <class R, class ToMessage>
handler ask_route(
    actor_ref target, ToMessage to_message,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  return [target, to_message = std::move(to_message), timeout](request& req,
                                                               responder out) {
    courier::detail::pending_ask_access::make<R>(target, to_message(req),
                                                 timeout)
        .then(
            [out](R reply) {
              try {
                detail::send_reply(out, std::move(reply));
              } catch (const std::exception& e) {
                detail::send_failure(out, e);
              }
            },
            [out](const ask_error& e) {
              out.send(error_response(e, detail::expose_errors_here()));
            });
  };
}

/// From a route handler (it runs in the edge actor's context): prepares
/// an ask to `target`; call then(on_reply, on_error) to send it.
template <class R, class Message>
pending_ask<R> ask(
    actor_ref target, Message&& msg,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  return courier::detail::pending_ask_access::make<R>(
      target, std::forward<Message>(msg), timeout);
}

/// The routes of a server: method + path pattern. A pattern is a path
/// whose segments may be `{name}` (one segment) or, last, `{name*}` (the
/// rest of the path, possibly empty).
class routes {
 public:
  routes& add(std::string_view method, std::string_view pattern, handler h);
  /// A plain function route: response(const request&).
  routes& add(std::string_view method, std::string_view pattern,
              std::function<response(const request&)> f);

  template <class H>
  routes& get(std::string_view pattern, H&& h) {
    return add("GET", pattern, std::forward<H>(h));
  }
  template <class H>
  routes& post(std::string_view pattern, H&& h) {
    return add("POST", pattern, std::forward<H>(h));
  }
  template <class H>
  routes& put(std::string_view pattern, H&& h) {
    return add("PUT", pattern, std::forward<H>(h));
  }
  template <class H>
  routes& del(std::string_view pattern, H&& h) {
    return add("DELETE", pattern, std::forward<H>(h));
  }

  struct entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    handler h;
    /// A bearer token this route requires (set by protect()).
    std::string bearer;
  };
  /// Requires `Authorization: Bearer <token>` on the routes added so far
  /// whose pattern starts with `prefix` (401 otherwise).
  routes& protect(std::string_view prefix, std::string token);

  const std::vector<entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<entry> entries_;
};

/// Server settings; every limit has a safe default.
struct server_config {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: an ephemeral port (see server::port())
  /// The loop of the edge actor (default: next to the caller, as
  /// spawn_options{} places an actor).
  std::optional<std::uint16_t> loop{};
  std::size_t max_header_bytes = 16 * 1024;  ///< request line + headers
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_connections = 10000;
  /// Bytes of answers built but not yet written that one connection may
  /// hold: past it the server parses no further request of that
  /// connection until the client reads (requests already dispatched
  /// still answer, at most max_pipelined of them).
  std::size_t max_write_buffer = 4 * 1024 * 1024;
  /// The bound for the whole server, and a hard one: an answer that would
  /// take the server past it is replaced by a 503 (Retry-After: 1) when
  /// it waits behind unread answers, and closes its connection when part
  /// of it is already written. Connections holding unwritten answers are
  /// not parsed while the server is over it; the others (a /healthz) are.
  /// One answer on an otherwise empty server always goes. At /metrics
  /// as courier_http_unwritten_bytes.
  std::size_t max_server_write_buffer = 64 * 1024 * 1024;
  /// Nesting depth of JSON bodies the edge and the push mount parse
  /// (see courier/json.hpp).
  std::size_t max_json_depth = 64;
  std::size_t max_pipelined = 64;  ///< requests in flight per connection
  /// A request whose headers (or body) have not all arrived in time gets
  /// 408 and the connection closes (slowloris).
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  /// A keep-alive connection idle this long closes quietly.
  std::chrono::milliseconds idle_timeout{60000};
  /// How long stop() lets requests in flight finish.
  std::chrono::milliseconds shutdown_grace{5000};
  std::string server_name = "courier";
  /// Put the exception text of a failed handler in 500 responses.
  bool expose_errors = false;
  /// Told of every failure the edge contained: a route handler or a hook
  /// (on_abandon, on_drain, on_end, a metrics producer) that threw, or a
  /// reply that could not be serialized. `where` names the place and
  /// `what` is the exception text. Runs on the edge's loop; empty: one
  /// line on stderr. The failure is counted either way
  /// (courier_http_failures_total).
  std::function<void(std::string_view where, std::string_view what)> on_error{};
  /// CORS: origins allowed ("*" for any); empty: no CORS headers.
  std::vector<std::string> cors_origins{};
  /// Serve GET /healthz and GET /metrics.
  bool builtin_routes = true;
  /// Routers whose counters /metrics adds (published, delivered, dropped
  /// per subject, history, subscriptions).
  std::vector<courier::router> metrics_routers{};
  /// Pollers whose counters /metrics adds (see poll.hpp), by name.
  std::vector<std::pair<std::string, actor_ref>> metrics_pollers{};
  /// More /metrics families and samples, added to the exposition on the
  /// edge's loop (the push mount adds its counters this way). The writer
  /// escapes label values and keeps each family's samples together. A
  /// producer that throws is reported to on_error.
  std::vector<std::function<void(prometheus_writer&)>> metrics_producers{};
};

/// Counters of a server, also served at /metrics.
struct server_stats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;
  std::uint64_t requests = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t bad_requests = 0;  ///< 4xx sent for malformed input
  std::uint64_t timeouts = 0;      ///< 408 for slow clients
  std::uint64_t failures = 0;      ///< handlers and hooks that threw
  /// Answers refused (503) or connections closed because an answer did
  /// not fit max_write_buffer or max_server_write_buffer.
  std::uint64_t over_budget = 0;
  std::uint64_t unwritten_bytes = 0;  ///< answers built, not yet written
};

/// A running server (a handle; copyable).
class server {
 public:
  server() = default;

  /// Spawns the edge actor and waits until it listens. Throws
  /// std::system_error when it cannot (address in use, ...). Not on a
  /// loop thread.
  static server start(system& sys, server_config cfg, routes r);

  std::uint16_t port() const noexcept { return port_; }
  actor_ref ref() const noexcept { return ref_; }

  /// Stops accepting, lets requests in flight finish (up to
  /// shutdown_grace), closes every connection, then stops the edge.
  /// Blocks until done. Not on a loop thread.
  void stop() const;

  server_stats stats() const;

 private:
  actor_ref ref_{};
  std::uint16_t port_ = 0;
};

}  // namespace courier::http
