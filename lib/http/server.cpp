// The HTTP edge actor: a uv_tcp_t listener on the actor's loop, one
// http_parser per connection, routes run in the edge's context, and
// responses written in request order (pipelining) whatever order the asks
// behind them finish in.

#include "courier/actor.hpp"
#include "courier/http.hpp"
#include "courier/poll.hpp"
#include "courier/system.hpp"

#include "../loop.hpp"
#include "../system_core.hpp"
#include "http_impl.hpp"

#include <http_parser.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace courier::http {

namespace impl {
class edge;
struct connection;
}  // namespace impl

struct responder::state {
  impl::connection* conn = nullptr;  // null once answered or closed
  std::uint64_t seq = 0;
  std::function<void()> on_abandon;  // the connection closed first
};

// A stream: frames queued while one write (of all that were waiting) is
// in flight. `conn` is null once the stream ended.
struct stream::state {
  impl::connection* conn = nullptr;
  std::size_t max_buffer = 0;
  std::function<void(stream_end)> on_end;
  std::function<void()> on_drain;
  std::vector<std::shared_ptr<const std::string>> queued;
  std::vector<std::shared_ptr<const std::string>> writing;
  std::vector<uv_buf_t> bufs;
  std::size_t queued_bytes = 0;
  std::size_t writing_bytes = 0;
  bool started = false;          // the head is out: writes may go
  bool close_requested = false;  // close() was called
};

namespace impl {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::array<double, 9> latency_buckets{
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0};

struct route_counters {
  std::map<int, std::uint64_t> by_status;
  std::array<std::uint64_t, latency_buckets.size()> buckets{};
  std::uint64_t count = 0;
  double sum = 0;
};

// --- messages to the edge
// -----------------------------------------------------

struct listen_request {};
struct listen_result {
  std::uint16_t port = 0;
  std::string error;
};
struct stop_request {};
struct stats_request {};

}  // namespace

// One response slot per request, in request order.
struct slot {
  std::shared_ptr<responder::state> state;
  std::string wire;  // the serialized response, once ready
  bool ready = false;
  bool close_after = false;
  bool head = false;        // answer without a body
  std::string cors_origin;  // Access-Control-Allow-Origin, if any
  const routes::entry* route = nullptr;
  const char* builtin = nullptr;  // "/healthz" or "/metrics"
  clock_type::time_point start;
  std::shared_ptr<http::stream::state> stream;  // the answer: a stream head
  std::size_t held = 0;  // bytes of `wire` counted in the budgets
};

// Bytes of answers built and not yet written, all connections of an
// edge. Shared with the connections: a write can complete after the edge
// is gone (`owner` is null then).
struct answer_budget {
  std::size_t bytes = 0;
  edge* owner = nullptr;
};

struct connection {
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  edge* owner = nullptr;
  http_parser parser{};
  int open_handles = 0;
  bool closing = false;
  bool reading = false;
  bool read_paused = false;   // by backpressure or the pipeline limit
  bool stop_parsing = false;  // after an error or Connection: close
  bool dispatching = false;   // a route handler of it is running

  // The request being parsed.
  request current;
  header_builder header;
  bool in_message = false;
  std::size_t header_bytes = 0;
  bool headers_done = false;
  int error_status = 0;
  std::string error_message;

  std::deque<slot> pending;  // responses in request order
  std::shared_ptr<answer_budget> budget;
  std::size_t built_bytes = 0;  // ready answers in `pending`, not written
  bool budget_wait = false;     // paused until the server's budget frees
  std::string backlog;          // received, not parsed yet (paused parser)
  std::uint64_t next_seq = 0;
  std::uint64_t first_seq = 0;  // seq of pending.front()
  std::size_t write_bytes = 0;  // queued in uv_write, not yet written
  // The connection's deadline (uv loop time, ms) and when its uv timer is
  // due: the timer is restarted only when the deadline moves earlier, so a
  // busy keep-alive connection does not touch libuv's timer heap per
  // request.
  std::uint64_t deadline = 0;
  std::uint64_t timer_due = 0;

  // Set once a stream's head is out: the connection carries only it.
  std::shared_ptr<http::stream::state> stream;
  uv_write_t stream_req{};
  bool flush_queued = false;  // in the edge's list for the turn's end
  stream_end end_reason = stream_end::client_closed;
};

struct write_req {
  uv_write_t req{};
  std::string data;
  connection* conn = nullptr;
  bool close_after = false;
};

// Runs `f`, a piece of the edge that libuv or http_parser called: an
// exception must not unwind through C frames. Returns false when `f`
// threw (`on_throw` got the text).
template <class F, class OnThrow>
bool contained(F&& f, OnThrow&& on_throw) noexcept {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    on_throw(e.what());
  } catch (...) {
    on_throw("an exception of unknown type");
  }
  return false;
}

class edge final : public actor, private courier::detail::turn_end_hook {
 public:
  edge(server_config cfg, routes r)
      : cfg_(std::move(cfg)), routes_(std::move(r)) {
    budget_->owner = this;
    settings_.on_message_begin = &edge::on_message_begin;
    settings_.on_url = &edge::on_url;
    settings_.on_header_field = &edge::on_header_field;
    settings_.on_header_value = &edge::on_header_value;
    settings_.on_headers_complete = &edge::on_headers_complete;
    settings_.on_body = &edge::on_body;
    settings_.on_message_complete = &edge::on_message_complete;
  }

  ~edge() override {
    budget_->owner = nullptr;
    if (hook_loop_ != nullptr) {
      hook_loop_->cancel_turn_end(*this);
    }
  }

  bool expose_errors() const noexcept { return cfg_.expose_errors; }

  // A failure the edge contained: counted, and told to the error hook.
  void failed(std::string_view where, std::string_view what) noexcept {
    ++stats_.failures;
    contained(
        [&] {
          if (cfg_.on_error) {
            cfg_.on_error(where, what);
          } else {
            std::fprintf(stderr, "courier http: %.*s threw: %.*s\n",
                         static_cast<int>(where.size()), where.data(),
                         static_cast<int>(what.size()), what.data());
          }
        },
        [](const char*) {});
  }

  // Runs a user hook; a throw is contained and reported.
  template <class F>
  void run_hook(const char* where, F&& f) noexcept {
    contained(std::forward<F>(f),
              [&](const char* what) { failed(where, what); });
  }

  // Called by responder::send() on the edge's loop.
  void complete(connection& c, std::uint64_t seq, response r) {
    slot* s = slot_of(c, seq);
    if (s == nullptr) {
      return;
    }
    answer(c, *s, r.status, &r.headers, {}, r.body);
  }

  // Called by responder::send_json(): the body is serialized into a
  // buffer the edge reuses, with no response object in between.
  void complete_json(connection& c, std::uint64_t seq, int status,
                     const nlohmann::json& body) {
    slot* s = slot_of(c, seq);
    if (s == nullptr) {
      return;
    }
    json_scratch_.clear();
    try {
      dump_json(json_scratch_, body);
    } catch (const std::exception& e) {
      failed("a JSON reply", e.what());
      answer_error(c, *s, e.what());
      return;
    }
    answer(c, *s, status, nullptr, "application/json", json_scratch_);
  }

  // Called by responder::send_body().
  void complete_body(connection& c, std::uint64_t seq, int status,
                     std::string_view body, std::string_view content_type) {
    if (slot* s = slot_of(c, seq)) {
      answer(c, *s, status, nullptr, content_type, body);
    }
  }

  void answer_error(connection& c, slot& s, const char* what) {
    response r = response::error(
        500, cfg_.expose_errors ? std::string("the reply failed: ") + what
                                : std::string("the request failed"));
    answer(c, s, r.status, &r.headers, {}, r.body);
  }

  slot* slot_of(connection& c, std::uint64_t seq) {
    if (seq < c.first_seq || seq - c.first_seq >= c.pending.size()) {
      return nullptr;
    }
    slot& s = c.pending[seq - c.first_seq];
    s.state->conn = nullptr;
    return &s;
  }

  // Serializes the answer of `s` and writes what is ready. The usual
  // case, an answer at the front of an idle connection, is serialized
  // into a buffer the edge reuses and written straight to the socket;
  // only what the socket does not take is copied, and queued.
  void answer(connection& c, slot& s, int status, const http::headers* fields,
              std::string_view content_type, std::string_view body) {
    bool direct = &s == &c.pending.front() && s.stream == nullptr &&
                  c.write_bytes == 0 && !c.closing;
    std::string& w = direct ? scratch_ : s.wire;
    w.clear();
    // Decided before the answer is copied: an answer refused here never
    // takes memory (the head is at most a few hundred bytes).
    if (!direct && !admit(body.size() + 512)) {
      // Behind unread answers, and it does not fit: a 503 instead.
      ++stats_.over_budget;
      status = 503;
      response r = response::error(
          503, "the server holds too many unread answers; retry later");
      r.headers.set("Retry-After", "1");
      serialize(w, c, s, r.status, &r.headers, {}, r.body);
    } else {
      serialize(w, c, s, status, fields, content_type, body);
    }
    s.ready = true;
    record(s, status);
    if (direct && !s.close_after) {
      std::optional<std::size_t> sent = write_now(c, w);
      if (!sent) {
        return;
      }
      c.pending.pop_front();  // answered: `s` is gone
      ++c.first_seq;
      if (*sent < w.size()) {
        // What the socket did not take; a client that reads nothing while
        // the server is full loses its connection.
        if (!admit(w.size() - *sent)) {
          ++stats_.over_budget;
          close_connection(c);
          return;
        }
        queue_write(c, w.substr(*sent));
      }
    } else {
      if (direct) {
        s.wire = w;
      }
      hold(c, s);
    }
    flush(c);
  }

  // Whether `n` more bytes of answers fit the server's budget; the first
  // unwritten bytes on the server always fit, so one answer can go. (A
  // connection's own budget is back-pressure: past it, no request of
  // that connection is parsed, see over_queue_limit().)
  bool admit(std::size_t n) const noexcept {
    return budget_->bytes == 0 ||
           budget_->bytes + n <= cfg_.max_server_write_buffer;
  }

  // Counts the ready answer of `s` in the budgets until it is written.
  void hold(connection& c, slot& s) noexcept {
    s.held = s.wire.size();
    c.built_bytes += s.held;
    budget_->bytes += s.held;
  }

  void release(connection& c, slot& s) {
    c.built_bytes -= s.held;
    budget_->bytes -= s.held;
    s.held = 0;
  }

  bool server_over_budget() const noexcept {
    return budget_->bytes >= cfg_.max_server_write_buffer;
  }

  // Connections paused by the server's budget read again once it has
  // room. Not re-entered: resuming one runs requests that free or take
  // budget in turn.
  void budget_freed() {
    if (resuming_ || budget_waiters_.empty() || server_over_budget()) {
      return;
    }
    resuming_ = true;
    std::vector<connection*> waiting;
    waiting.swap(budget_waiters_);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      connection* c = waiting[i];
      c->budget_wait = false;
      if (c->closing) {
        continue;
      }
      if (server_over_budget()) {  // full again: the rest wait on
        for (std::size_t k = i; k < waiting.size(); ++k) {
          if (!waiting[k]->closing) {
            waiting[k]->budget_wait = true;
            budget_waiters_.push_back(waiting[k]);
          }
        }
        break;
      }
      maybe_resume(*c);
    }
    resuming_ = false;
  }

  // Called by responder::start_stream() on the edge's loop.
  void start_stream(connection& c, std::uint64_t seq, response head,
                    const std::shared_ptr<http::stream::state>& st) {
    if (seq < c.first_seq || seq - c.first_seq >= c.pending.size()) {
      return;
    }
    slot& s = c.pending[seq - c.first_seq];
    s.state->conn = nullptr;
    s.stream = st;
    st->conn = &c;
    finish_slot(c, s, std::move(head));
    flush(c);
  }

  // Called by stream::write(): queue, and write now if the socket is free.
  bool stream_write(http::stream::state& st,
                    std::shared_ptr<const std::string> bytes) {
    connection& c = *st.conn;
    std::size_t n = bytes->size();
    if (st.queued_bytes + st.writing_bytes + n > st.max_buffer) {
      c.end_reason = stream_end::slow_client;
      close_connection(c);
      return false;
    }
    st.queued_bytes += n;
    st.queued.push_back(std::move(bytes));
    if (st.started && st.writing.empty()) {
      flush_at_turn_end(c);
    }
    return st.conn != nullptr;
  }

  // Frames queued for a stream leave when the loop's turn ends, all the
  // turn's frames for a socket in one write: an event fanned out to many
  // streams costs one syscall per stream per turn, however many events the
  // turn published.
  void flush_at_turn_end(connection& c) {
    if (c.flush_queued) {
      return;
    }
    courier::detail::loop* here = courier::detail::loop::current();
    if (here == nullptr) {
      stream_flush(c);  // not on a loop (misuse): write at once
      return;
    }
    dirty_streams_.push_back(&c);
    c.flush_queued = true;
    hook_loop_ = here;
    here->at_turn_end(*this);
  }

  void at_turn_end() override {
    std::vector<connection*> now;
    now.swap(dirty_streams_);
    courier::detail::loop::actor_scope scope(*hook_loop_, *this);
    for (connection* c : now) {
      // A connection closed since it was queued left the list, unless it
      // closed during this pass: then it is still allocated (libuv frees
      // it in the closing phase) and skipped here.
      if (!c->flush_queued) {
        continue;
      }
      c->flush_queued = false;
      if (!c->closing && c->stream != nullptr && c->stream->started) {
        guard(*c, "writing a stream", [&] { stream_flush(*c); });
      }
    }
    if (now.capacity() > dirty_streams_.capacity()) {
      now.clear();
      dirty_streams_.swap(now);  // keep the larger buffer
    }
  }

  // Called by stream::close().
  void stream_close(http::stream::state& st) {
    st.close_requested = true;
    connection& c = *st.conn;
    if (st.started && st.writing.empty() && st.queued.empty()) {
      c.end_reason = stream_end::closed;
      close_connection(c);
    }
  }

 protected:
  courier::behavior behavior() override {
    return {
        [this](listen_request) { return listen(); },
        [this](stop_request) { begin_stop(); },
        [this](stats_request) {
          server_stats st = stats_;
          st.unwritten_bytes = budget_->bytes;
          return st;
        },
    };
  }

  void on_stop() override {
    // The system stops: close everything now (no grace).
    stopping_ = true;
    close_listener();
    std::vector<connection*> all(connections_.begin(), connections_.end());
    for (connection* c : all) {
      close_connection(*c);
    }
    if (stop_promise_.pending()) {
      stop_promise_.deliver();
    }
  }

 private:
  // --- listening
  // --------------------------------------------------------------

  listen_result listen() {
    listen_result out;
    uv_loop_t* uv = courier::detail::loop::current()->uv();
    listener_ = new uv_tcp_t;
    uv_tcp_init(uv, listener_);
    listener_->data = this;
    sockaddr_storage addr{};
    int rc = uv_ip4_addr(cfg_.address.c_str(), cfg_.port,
                         reinterpret_cast<sockaddr_in*>(&addr));
    if (rc != 0) {
      rc = uv_ip6_addr(cfg_.address.c_str(), cfg_.port,
                       reinterpret_cast<sockaddr_in6*>(&addr));
    }
    if (rc == 0) {
      rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    }
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 511,
                     &edge::on_connection);
    }
    if (rc != 0) {
      out.error = std::string("cannot listen on ") + cfg_.address + ":" +
                  std::to_string(cfg_.port) + ": " + uv_strerror(rc);
      close_listener();
      stop();
      return out;
    }
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    out.port = ntohs(bound.ss_family == AF_INET6
                         ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return out;
  }

  void close_listener() {
    if (listener_ != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(listener_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      listener_ = nullptr;
    }
  }

  static void on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<edge*>(server->data);
    if (status < 0) {
      return;
    }
    contained([&] { self->accept(server); },
              [self](const char* what) {
                self->failed("accepting a connection", what);
              });
  }

  void accept(uv_stream_t* server) {
    edge* self = this;
    auto* c = new connection;
    c->owner = self;
    c->budget = self->budget_;
    uv_loop_t* uv = server->loop;
    uv_tcp_init(uv, &c->tcp);
    uv_timer_init(uv, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      self->close_connection(*c);
      return;
    }
    ++self->stats_.connections_accepted;
    self->connections_.push_back(c);
    ++self->stats_.connections_open;
    if (self->stats_.connections_open > self->cfg_.max_connections ||
        self->draining_) {
      ++self->stats_.connections_rejected;
      self->reject(*c, 503, "too many connections");
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    self->arm_timer(*c, self->cfg_.header_timeout);
    self->start_reading(*c);
  }

  // --- reading and parsing
  // ----------------------------------------------------

  void start_reading(connection& c) {
    if (c.reading || c.closing) {
      return;
    }
    c.reading = true;
    // One read buffer per edge: on_read consumes it before the next read.
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c.tcp),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
          edge& self = *static_cast<connection*>(h->data)->owner;
          buf->base = self.read_buffer_.data();
          buf->len = self.read_buffer_.size();
        },
        &edge::on_read);
  }

  void stop_reading(connection& c) {
    if (c.reading) {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
      c.reading = false;
    }
  }

  static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<connection*>(stream->data);
    edge& self = *c->owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    if (n < 0) {
      // EOF or error: answer nothing more, close once pending responses
      // are out (a half-closed client may still read them).
      self.stop_reading(*c);
      c->stop_parsing = true;
      // A request that wants to hear of abandonment (a long poll) counts
      // the client's EOF as giving up, as nginx does (499).
      bool waiting = std::any_of(
          c->pending.begin(), c->pending.end(),
          [](const slot& s) { return s.state->on_abandon != nullptr; });
      if (c->pending.empty() || n != UV_EOF || waiting) {
        self.close_connection(*c);
      } else {
        c->pending.back().close_after = true;
      }
      return;
    }
    if (n == 0 || c->stop_parsing) {
      return;
    }
    self.stats_.bytes_in += static_cast<std::uint64_t>(n);
    self.guard(*c, "reading a request",
               [&] { self.feed(*c, buf->base, static_cast<std::size_t>(n)); });
  }

  // Runs a step of connection `c` that libuv called: a throw (out of
  // memory, a failing hook not caught deeper) is reported and ends that
  // connection, never the process.
  template <class F>
  void guard(connection& c, const char* where, F&& f) noexcept {
    contained(std::forward<F>(f), [&](const char* what) {
      failed(where, what);
      contained([&] { close_connection(c); }, [](const char*) {});
    });
  }

  // Parses what arrived. When too many responses are queued (bytes or
  // count), parsing pauses after a request: the rest of the data waits in
  // the connection's backlog and reading stops until the client reads.
  void feed(connection& c, const char* data, std::size_t n) {
    std::size_t parsed = http_parser_execute(&c.parser, &settings_, data, n);
    if (c.closing) {
      return;
    }
    if (c.error_status == 0 && !c.stop_parsing &&
        HTTP_PARSER_ERRNO(&c.parser) == HPE_PAUSED) {
      c.backlog.assign(data + parsed, n - parsed);
      pause_reading(c);
      return;
    }
    if (c.error_status == 0 &&
        (HTTP_PARSER_ERRNO(&c.parser) != HPE_OK || parsed != n) &&
        !c.stop_parsing) {
      c.error_status = 400;
      c.error_message = std::string("malformed request: ") +
                        http_errno_description(HTTP_PARSER_ERRNO(&c.parser));
    }
    if (c.error_status != 0) {
      fail_request(c, c.error_status, c.error_message);
      return;
    }
    if (over_queue_limit(c)) {
      pause_reading(c);
    }
  }

  // Too many requests in flight, or too many bytes of answers unwritten
  // on this connection, or some while the server is over its budget:
  // parse no further request. A connection that holds nothing unwritten
  // is still read when the server is full (its answers go straight to the
  // socket), so /healthz answers while readers that do not read wait.
  bool over_queue_limit(const connection& c) const noexcept {
    std::size_t mine = c.write_bytes + c.built_bytes;
    return c.pending.size() >= cfg_.max_pipelined ||
           mine >= cfg_.max_write_buffer || (mine > 0 && server_over_budget());
  }

  void pause_reading(connection& c) {
    c.read_paused = true;
    stop_reading(c);
    wait_for_budget(c);
  }

  // A connection paused while the server is over its budget is resumed
  // by budget_freed(), not by its own writes.
  void wait_for_budget(connection& c) {
    if (server_over_budget() && !c.budget_wait && !c.closing &&
        c.write_bytes + c.built_bytes > 0) {
      c.budget_wait = true;
      budget_waiters_.push_back(&c);
    }
  }

  // Picks up a paused connection once its queue drained: the backlog
  // first, then reading.
  void maybe_resume(connection& c) {
    if (!c.read_paused || c.closing || c.stop_parsing) {
      return;
    }
    if (over_queue_limit(c)) {
      wait_for_budget(c);
      return;
    }
    c.read_paused = false;
    if (HTTP_PARSER_ERRNO(&c.parser) == HPE_PAUSED) {
      http_parser_pause(&c.parser, 0);
    }
    if (!c.backlog.empty()) {
      std::string b = std::move(c.backlog);
      c.backlog.clear();
      feed(c, b.data(), b.size());
      if (c.read_paused || c.closing) {
        return;
      }
    }
    start_reading(c);
  }

  static connection& conn_of(http_parser* p) {
    return *static_cast<connection*>(p->data);
  }

  bool over_header_limit(connection& c, std::size_t add) {
    c.header_bytes += add;
    if (c.header_bytes > cfg_.max_header_bytes) {
      c.error_status = 431;
      c.error_message = "the request line and headers exceed " +
                        std::to_string(cfg_.max_header_bytes) + " bytes";
      return true;
    }
    return false;
  }

  static int on_message_begin(http_parser* p) {
    connection& c = conn_of(p);
    reset_request(c.current);
    c.header.reset();
    c.in_message = true;
    c.header_bytes = 0;
    c.headers_done = false;
    c.owner->arm_timer(c, c.owner->cfg_.header_timeout);
    return 0;
  }

  // Clears the connection's request for the next one, keeping the
  // capacity of its strings and vectors unless a large body grew them.
  static void reset_request(request& r) {
    constexpr std::size_t keep = 64 * 1024;
    r.method.clear();
    r.target.clear();
    r.path.clear();
    r.query.clear();
    r.params.clear();
    r.headers.clear();
    r.version_minor = 1;
    if (r.body.capacity() > keep || r.target.capacity() > keep) {
      r.body = std::string();
      r.target = std::string();
    }
    r.body.clear();
  }

  // The parser's callbacks are called from C: nothing may unwind
  // through them. A throw (out of memory) ends the connection.
  template <class F>
  static int parser_step(http_parser* p, const char* where, F&& f) noexcept {
    connection& c = conn_of(p);
    int rc = 0;
    bool ok =
        contained([&] { rc = f(c); },
                  [&](const char* what) { c.owner->failed(where, what); });
    if (!ok) {
      c.owner->close_connection(c);
      return 1;
    }
    return rc;
  }

  static int on_url(http_parser* p, const char* at, std::size_t len) {
    return parser_step(p, "reading a request", [&](connection& c) {
      if (c.owner->over_header_limit(c, len)) {
        return 1;
      }
      c.current.target.append(at, len);
      return 0;
    });
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t len) {
    return parser_step(p, "reading a request", [&](connection& c) {
      if (c.owner->over_header_limit(c, len)) {
        return 1;
      }
      c.header.on_field(std::string_view(at, len));
      return 0;
    });
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t len) {
    return parser_step(p, "reading a request", [&](connection& c) {
      if (c.owner->over_header_limit(c, len)) {
        return 1;
      }
      c.header.on_value(c.current.headers, std::string_view(at, len));
      return 0;
    });
  }

  static int on_headers_complete(http_parser* p) {
    return parser_step(p, "reading a request", [p](connection& c) {
      return c.owner->headers_complete(c, p);
    });
  }

  int headers_complete(connection& c, http_parser* p) {
    edge& self = *this;
    c.headers_done = true;
    if (p->http_major != 1) {
      // RFC 9110, 15.6.6: this server speaks HTTP/1.x only.
      c.error_status = 505;
      c.error_message = "HTTP/" + std::to_string(p->http_major) + "." +
                        std::to_string(p->http_minor) +
                        " is not supported; use HTTP/1.1";
      return -1;
    }
    c.current.method = http_method_str(static_cast<http_method>(p->method));
    c.current.version_minor = p->http_minor;
    if ((p->flags & F_CONTENTLENGTH) != 0 &&
        p->content_length > self.cfg_.max_body_bytes) {
      c.error_status = 413;
      c.error_message = "the body exceeds " +
                        std::to_string(self.cfg_.max_body_bytes) + " bytes";
      return -1;
    }
    std::string_view expect = c.current.headers.get("Expect");
    if (!expect.empty()) {
      if (expect == "100-continue" || expect == "100-Continue") {
        if (p->http_minor >= 1) {
          self.write_raw(c, "HTTP/1.1 100 Continue\r\n\r\n");
        }
      } else {
        c.error_status = 417;
        c.error_message = "unsupported Expect";
        return -1;
      }
    }
    self.arm_timer(c, self.cfg_.body_timeout);
    return 0;
  }

  static int on_body(http_parser* p, const char* at, std::size_t len) {
    return parser_step(p, "reading a request", [&](connection& c) {
      if (c.current.body.size() + len > c.owner->cfg_.max_body_bytes) {
        c.error_status = 413;
        c.error_message = "the body exceeds " +
                          std::to_string(c.owner->cfg_.max_body_bytes) +
                          " bytes";
        return 1;
      }
      c.current.body.append(at, len);
      return 0;
    });
  }

  static int on_message_complete(http_parser* p) {
    return parser_step(p, "dispatching a request", [p](connection& c) {
      edge& self = *c.owner;
      c.in_message = false;
      if (c.stop_parsing) {
        // The connection carries a stream (its handler started one at
        // once, inside this parse) or is closing: what follows in the
        // same read is never answered.
        http_parser_pause(p, 1);
        return 0;
      }
      bool keep = http_should_keep_alive(p) != 0;
      c.dispatching = true;
      self.dispatch(c, c.current, keep);
      c.dispatching = false;
      if (c.stream != nullptr) {
        c.current = request{};  // see begin_streaming()
        c.header = header_builder{};
      }
      if (!keep || c.closing || c.stop_parsing) {
        c.stop_parsing = true;
        http_parser_pause(p, 1);
        return 0;
      }
      if (self.over_queue_limit(c)) {
        http_parser_pause(p, 1);  // the rest waits in the backlog
      }
      return 0;
    });
  }

  // --- requests
  // ---------------------------------------------------------------

  slot& new_slot(connection& c) {
    slot s;
    s.state = std::make_shared<responder::state>();
    s.state->conn = &c;
    s.state->seq = c.next_seq++;
    s.start = clock_type::now();
    c.pending.push_back(std::move(s));
    return c.pending.back();
  }

  void dispatch(connection& c, request& req, bool keep_alive) {
    ++stats_.requests;
    slot& s = new_slot(c);
    s.close_after = !keep_alive || draining_;
    bool head = req.method == "HEAD";
    s.head = head;
    s.cors_origin = allowed_origin(req);
    if (const char* bad = decode_target(req)) {
      ++stats_.bad_requests;
      complete(c, s.state->seq, response::error(400, bad));
      return;
    }
    if (!cfg_.cors_origins.empty() && req.method == "OPTIONS" &&
        req.headers.contains("Access-Control-Request-Method")) {
      response pre;
      pre.status = 204;
      pre.headers.set("Access-Control-Allow-Methods",
                      "GET, POST, PUT, DELETE, OPTIONS");
      pre.headers.set("Access-Control-Allow-Headers",
                      "Authorization, Content-Type, Last-Event-ID");
      pre.headers.set("Access-Control-Max-Age", "600");
      complete(c, s.state->seq, std::move(pre));
      return;
    }
    if (cfg_.builtin_routes && (req.method == "GET" || head)) {
      if (req.path == "/healthz") {
        s.builtin = "/healthz";
        complete(c, s.state->seq, response::json(200, {{"status", "ok"}}));
        return;
      }
      if (req.path == "/metrics") {
        s.builtin = "/metrics";
        serve_metrics(c, s);
        return;
      }
    }
    if (cfg_.builtin_routes &&
        (req.path == "/healthz" || req.path == "/metrics")) {
      response r =
          response::error(405, "method " + req.method + " is not allowed here");
      r.headers.set("Allow", "GET, HEAD");
      complete(c, s.state->seq, std::move(r));
      return;
    }
    route_match m = match_route(routes_, req.method, req.path);
    if (m.entry == nullptr) {
      if (!m.allowed.empty()) {
        std::string allow;
        for (const auto& a : m.allowed) {
          allow += (allow.empty() ? "" : ", ") + a;
        }
        response r = response::error(
            405, "method " + req.method + " is not allowed here");
        r.headers.set("Allow", allow);
        complete(c, s.state->seq, std::move(r));
      } else {
        complete(c, s.state->seq,
                 response::error(404, "no route for " + req.path));
      }
      return;
    }
    s.route = m.entry;
    if (!m.entry->bearer.empty()) {
      std::string_view auth = req.headers.get("Authorization");
      if (!auth.starts_with("Bearer ") ||
          !constant_time_equal(auth.substr(7), m.entry->bearer)) {
        response r = response::error(401, "a valid bearer token is required");
        r.headers.set("WWW-Authenticate", "Bearer");
        complete(c, s.state->seq, std::move(r));
        return;
      }
    }
    req.params = std::move(m.params);
    responder out(s.state);
    std::uint64_t seq = s.state->seq;
    contained(
        [&] { m.entry->h(req, out); },
        [&](const char* what) {
          failed("the route " + m.entry->method + " " + m.entry->pattern, what);
          if (!out.done()) {
            complete(c, seq,
                     response::error(
                         500, cfg_.expose_errors
                                  ? std::string("the handler threw: ") + what
                                  : std::string("the request failed")));
          }
        });
  }

  // Splits the target into the decoded path and query of `req`: origin
  // form, or absolute form (RFC 9112, 3.2.2: "http://host/path", whose
  // authority the edge ignores). Returns what is wrong, or null.
  static const char* decode_target(request& req) {
    std::string_view t = req.target;
    if (t == "*") {  // asterisk form (OPTIONS *): no route has it
      req.path = "*";
      return nullptr;
    }
    if (!t.starts_with('/')) {
      std::size_t scheme = t.find("://");
      std::string_view name = t.substr(0, scheme);
      if (scheme == std::string_view::npos ||
          !(iequals(name, "http") || iequals(name, "https"))) {
        return "the request target must be a path or an http:// URL";
      }
      t.remove_prefix(scheme + 3);
      std::size_t rest = t.find_first_of("/?");
      t = rest == std::string_view::npos ? std::string_view("/")
                                         : t.substr(rest);
    }
    std::size_t q = t.find('?');
    if (!percent_decode(t.substr(0, q), req.path, false)) {
      return "malformed percent-encoding in the path";
    }
    if (!valid_utf8(req.path)) {
      return "the path is not valid UTF-8";
    }
    if (req.path.empty() || req.path.front() != '/') {
      req.path.insert(0, 1, '/');  // "http://host?x" asks for "/"
    }
    if (q == std::string_view::npos) {
      return nullptr;
    }
    if (!parse_query(t.substr(q + 1), req.query)) {
      return "malformed percent-encoding in the query";
    }
    for (const auto& [k, v] : req.query) {
      if (!valid_utf8(k) || !valid_utf8(v)) {
        return "the query is not valid UTF-8";
      }
    }
    return nullptr;
  }

  // The Access-Control-Allow-Origin value for this request ("": none).
  std::string allowed_origin(const request& req) const {
    if (cfg_.cors_origins.empty()) {
      return {};
    }
    std::string_view origin = req.headers.get("Origin");
    if (origin.empty()) {
      return {};
    }
    for (const std::string& o : cfg_.cors_origins) {
      if (o == "*") {
        return "*";
      }
      if (o == origin) {
        return std::string(origin);
      }
    }
    return {};
  }

  void finish_slot(connection& c, slot& s, const response& r) {
    serialize(s.wire, c, s, r.status, &r.headers, {}, r.body);
    s.ready = true;
    hold(c, s);
    record(s, r.status);
  }

  // Appends the response to `w`: status line, `fields` (may be null),
  // Content-Type (when given: `fields` has none), the edge's headers,
  // then the body unless the request was HEAD.
  void serialize(std::string& w, connection& c, slot& s, int status,
                 const http::headers* fields, std::string_view content_type,
                 std::string_view body) {
    bool no_body = status == 204 || status == 304 || status < 200;
    if (s.stream != nullptr) {
      // The body runs until the connection closes (RFC 9112, 6.3).
      s.close_after = true;
      no_body = true;
    }
    if (status == 400 || status == 408 || status == 413 || status == 431) {
      s.close_after = true;  // the stream may be out of sync
    }
    if (draining_) {
      s.close_after = true;  // stopping: no further request on it
    }
    std::string_view why = reason(status);
    const std::string& date = date_and_server();
    // The head is written into room made once, not piece by piece.
    std::size_t room = 64 + why.size() + date.size() + content_type.size() +
                       2 * s.cors_origin.size() + 128;
    if (fields != nullptr) {
      for (const auto& [k, v] : fields->fields()) {
        room += k.size() + v.size() + 4;
      }
    }
    std::size_t at = w.size();
    w.reserve(at + room + body.size());
    w.resize(at + room);
    char* p = w.data() + at;
    auto put = [&p](std::string_view v) {
      std::memcpy(p, v.data(), v.size());
      p += v.size();
    };
    put(c.parser.http_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    p = std::to_chars(p, p + 8, status).ptr;
    *p++ = ' ';
    put(why);
    put("\r\n");
    bool has_length = false;
    if (fields != nullptr) {
      for (const auto& [k, v] : fields->fields()) {
        if (!s.cors_origin.empty() &&
            iequals(k, "Access-Control-Allow-Origin")) {
          continue;  // the server's CORS answer wins
        }
        has_length = has_length || iequals(k, "Content-Length");
        put(k);
        put(": ");
        put(v);
        put("\r\n");
      }
    }
    if (!content_type.empty()) {
      put("Content-Type: ");
      put(content_type);
      put("\r\n");
    }
    if (!s.cors_origin.empty()) {
      put("Access-Control-Allow-Origin: ");
      put(s.cors_origin);
      put("\r\n");
      if (s.cors_origin != "*") {
        put("Vary: Origin\r\n");
      }
    }
    put(date);
    if (!no_body && !has_length) {
      put("Content-Length: ");
      p = std::to_chars(p, p + 24, body.size()).ptr;
      put("\r\n");
    }
    if (s.close_after) {
      put("Connection: close\r\n");
    } else if (c.parser.http_minor == 0) {
      put("Connection: keep-alive\r\n");
    }
    put("\r\n");
    w.resize(static_cast<std::size_t>(p - w.data()));
    if (!s.head && !no_body) {
      w.append(body);
    }
  }

  // "Date: ...\r\nServer: ...\r\n", rebuilt when the second changes.
  const std::string& date_and_server() {
    std::time_t now = std::time(nullptr);
    if (now != date_at_ || date_line_.empty()) {
      date_at_ = now;
      date_line_ =
          "Date: " + http_date() + "\r\nServer: " + cfg_.server_name + "\r\n";
    }
    return date_line_;
  }

  void record(const slot& s, int status) {
    // Looked up by view: no string is built per request.
    std::string_view key = "(none)";
    if (s.route != nullptr) {
      key = s.route->pattern;
    } else if (s.builtin != nullptr) {
      key = s.builtin;
    }
    auto it = counters_.find(key);
    if (it == counters_.end()) {
      it = counters_.emplace(std::string(key), route_counters{}).first;
    }
    route_counters& rc = it->second;
    ++rc.by_status[status];
    double secs =
        std::chrono::duration<double>(clock_type::now() - s.start).count();
    ++rc.count;
    rc.sum += secs;
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
      if (secs <= latency_buckets[i]) {
        ++rc.buckets[i];
      }
    }
  }

  // Writes the ready responses at the front, in order.
  void flush(connection& c) {
    while (!c.pending.empty() && c.pending.front().ready && !c.closing) {
      slot s = std::move(c.pending.front());
      c.pending.pop_front();
      ++c.first_seq;
      release(c, s);
      if (s.stream != nullptr) {
        begin_streaming(c, std::move(s));
        return;
      }
      write_raw(c, std::move(s.wire), s.close_after);
      if (s.close_after) {
        c.stop_parsing = true;
        stop_reading(c);
        abandon_pending(c);  // pipelined after a close: never answered
        return;
      }
    }
    if (c.pending.empty() && !c.in_message && !c.closing) {
      if (draining_) {
        close_connection(c);
        return;
      }
      arm_timer(c, cfg_.idle_timeout);
    }
    maybe_resume(c);
    budget_freed();
  }

  // Requests on `c` that will never be answered.
  void abandon_pending(connection& c) {
    std::deque<slot> rest = std::move(c.pending);
    c.pending.clear();
    for (slot& s : rest) {
      release(c, s);
      s.state->conn = nullptr;
      if (s.stream != nullptr) {
        end_stream(*s.stream, c.end_reason);
      }
      if (s.state->on_abandon) {
        auto f = std::move(s.state->on_abandon);
        run_hook("an on_abandon hook", f);
      }
    }
  }

  // The head of a stream is out: from now on the connection carries its
  // frames only. Reading goes on, to see the client leave.
  void begin_streaming(connection& c, slot s) {
    write_raw(c, std::move(s.wire));
    c.stop_parsing = true;
    abandon_pending(c);
    if (c.closing) {
      end_stream(*s.stream, c.end_reason);
      return;
    }
    c.stream = std::move(s.stream);
    c.stream->started = true;
    // No request is parsed on it again: give back what the last one kept
    // for reuse (an idle stream should cost as little as possible), unless
    // its handler is still running (it started the stream at once, inside
    // the parse): on_message_complete() gives it back then.
    if (!c.dispatching) {
      c.current = request{};
      c.header = header_builder{};
    }
    c.backlog = std::string();
    uv_timer_stop(&c.timer);
    c.timer_due = 0;
    c.read_paused = false;
    start_reading(c);
    if (c.stream->close_requested && c.stream->queued.empty()) {
      c.end_reason = stream_end::closed;
      close_connection(c);
      return;
    }
    stream_flush(c);
  }

  // Writes every queued frame of the stream: what the socket takes at once
  // with uv_try_write (no request, no callback, no epoll_ctl), the rest
  // through one uv_write. Callers batch: frames queued by actors leave at
  // the end of the loop's turn (flush_at_turn_end), and while a uv_write is
  // in flight new frames wait for its callback, so a stream costs one
  // syscall per turn, not one per event (10x the server CPU for 10,000
  // streams in benchmarks/push.sh).
  void stream_flush(connection& c) {
    http::stream::state& st = *c.stream;
    if (c.closing || !st.writing.empty() || st.queued.empty()) {
      return;
    }
    st.writing.swap(st.queued);
    std::size_t total = st.queued_bytes;
    st.queued_bytes = 0;
    st.bufs.clear();
    for (const auto& f : st.writing) {
      st.bufs.push_back(uv_buf_init(const_cast<char*>(f->data()),
                                    static_cast<unsigned>(f->size())));
    }
    stats_.bytes_out += total;
    auto* tcp = reinterpret_cast<uv_stream_t*>(&c.tcp);
    int n = uv_try_write(tcp, st.bufs.data(),
                         static_cast<unsigned>(st.bufs.size()));
    if (n == UV_EAGAIN) {
      n = 0;
    }
    if (n < 0) {
      st.writing.clear();
      close_connection(c);
      return;
    }
    auto written = static_cast<std::size_t>(n);
    if (written == total) {
      st.writing.clear();
      stream_drained(c);
      return;
    }
    std::size_t first = 0;
    while (written >= st.bufs[first].len) {
      written -= st.bufs[first].len;
      ++first;
    }
    st.bufs[first].base += written;
    st.bufs[first].len -= static_cast<unsigned>(written);
    st.writing_bytes = total - static_cast<std::size_t>(n);
    c.write_bytes += st.writing_bytes;
    c.stream_req.data = &c;
    int rc = uv_write(&c.stream_req, tcp, st.bufs.data() + first,
                      static_cast<unsigned>(st.bufs.size() - first),
                      &edge::on_stream_write);
    if (rc != 0) {
      c.write_bytes -= st.writing_bytes;
      st.writing.clear();
      st.writing_bytes = 0;
      close_connection(c);
    }
  }

  // Everything queued so far is written: end the stream if asked, else
  // tell its owner (which may queue more: that leaves at the turn's end).
  void stream_drained(connection& c) {
    http::stream::state& st = *c.stream;
    if (!st.queued.empty()) {
      flush_at_turn_end(c);
      return;
    }
    if (st.close_requested) {
      c.end_reason = stream_end::closed;
      close_connection(c);
      return;
    }
    if (st.on_drain) {
      run_hook("a stream's on_drain hook", st.on_drain);
    }
  }

  static void on_stream_write(uv_write_t* req, int status) {
    connection& c = *static_cast<connection*>(req->data);
    http::stream::state& st = *c.stream;
    c.write_bytes -= st.writing_bytes;
    st.writing.clear();
    st.writing_bytes = 0;
    if (c.closing) {
      release_if_closed(c);
      return;
    }
    edge& self = *c.owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    self.guard(c, "writing a stream", [&] {
      if (status < 0) {
        self.close_connection(c);
        return;
      }
      // What was queued while this write ran leaves now (this is the
      // pending phase, outside a turn); else the stream is drained.
      if (!st.queued.empty()) {
        self.stream_flush(c);
        return;
      }
      self.stream_drained(c);
    });
  }

  void end_stream(http::stream::state& st, stream_end why) {
    if (st.conn == nullptr) {
      return;
    }
    st.conn = nullptr;
    st.queued.clear();
    st.queued_bytes = 0;
    if (!st.close_requested && st.on_end) {
      auto f = std::move(st.on_end);
      run_hook("a stream's on_end hook", [&] { f(why); });
    }
  }

  // Writes what the socket takes at once, when nothing is queued before
  // it: a uv_write that completes at once still costs a pending callback
  // and, through libuv re-arming the fd, an epoll_ctl per response.
  // Returns the bytes written, or nullopt after a write error (the
  // connection is closing then).
  std::optional<std::size_t> write_now(connection& c, std::string_view data) {
    if (c.write_bytes != 0) {
      return 0;  // behind queued bytes: uv_write keeps the order
    }
    uv_buf_t buf = uv_buf_init(const_cast<char*>(data.data()),
                               static_cast<unsigned>(data.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1);
    if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
      close_connection(c);
      return std::nullopt;
    }
    std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    stats_.bytes_out += sent;
    return sent;
  }

  void write_raw(connection& c, std::string data, bool close_after = false) {
    if (c.closing) {
      return;
    }
    if (!close_after) {
      std::optional<std::size_t> sent = write_now(c, data);
      if (!sent || *sent == data.size()) {
        return;
      }
      data.erase(0, *sent);
    }
    queue_write(c, std::move(data), close_after);
  }

  // Queues `data` behind what the connection is writing (uv_write).
  void queue_write(connection& c, std::string data, bool close_after = false) {
    auto* w = new write_req;
    w->data = std::move(data);
    w->conn = &c;
    w->close_after = close_after;
    c.write_bytes += w->data.size();
    budget_->bytes += w->data.size();
    stats_.bytes_out += w->data.size();
    uv_buf_t buf =
        uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1,
                      &edge::on_write);
    if (rc != 0) {
      c.write_bytes -= w->data.size();
      budget_->bytes -= w->data.size();
      delete w;
      close_connection(c);
      return;
    }
    if (over_queue_limit(c)) {
      pause_reading(c);
    }
  }

  static void on_write(uv_write_t* req, int status) {
    std::unique_ptr<write_req> w(reinterpret_cast<write_req*>(req));
    connection& c = *w->conn;
    c.write_bytes -= w->data.size();
    std::shared_ptr<answer_budget> budget = c.budget;
    budget->bytes -= w->data.size();
    if (c.closing) {
      release_if_closed(c);  // may free `c`
      if (edge* self = budget->owner) {
        courier::detail::loop::actor_scope scope(
            *courier::detail::loop::current(), *self);
        contained([self] { self->budget_freed(); },
                  [self](const char* what) {
                    self->failed("resuming connections", what);
                  });
      }
      return;
    }
    edge& self = *c.owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    if (status < 0 || w->close_after) {
      self.guard(c, "closing a connection", [&] { self.close_connection(c); });
      return;
    }
    self.guard(c, "resuming a connection", [&] {
      self.maybe_resume(c);
      self.budget_freed();
    });
  }

  // An error answer after the requests already pending, then close.
  void fail_request(connection& c, int status, const std::string& message) {
    ++stats_.bad_requests;
    c.stop_parsing = true;
    stop_reading(c);
    slot& s = new_slot(c);
    s.close_after = true;
    s.state->conn = nullptr;
    finish_slot(c, s, response::error(status, message));
    flush(c);
  }

  void reject(connection& c, int status, const std::string& message) {
    slot& s = new_slot(c);
    s.close_after = true;
    s.state->conn = nullptr;
    finish_slot(c, s, response::error(status, message));
    flush(c);
  }

  // --- timers
  // -----------------------------------------------------------------

  void arm_timer(connection& c, std::chrono::milliseconds d) {
    if (c.closing || c.stream != nullptr) {
      return;
    }
    std::uint64_t now = uv_now(c.timer.loop);
    c.deadline = now + static_cast<std::uint64_t>(d.count());
    if (c.timer_due == 0 || c.deadline < c.timer_due) {
      c.timer_due = c.deadline;
      uv_timer_start(&c.timer, &edge::on_timer, c.deadline - now, 0);
    }
  }

  static void on_timer(uv_timer_t* t) {
    auto* c = static_cast<connection*>(t->data);
    std::uint64_t now = uv_now(t->loop);
    if (now < c->deadline) {  // the deadline moved later meanwhile
      c->timer_due = c->deadline;
      uv_timer_start(t, &edge::on_timer, c->deadline - now, 0);
      return;
    }
    c->timer_due = 0;
    if (c->stream != nullptr) {
      return;
    }
    edge& self = *c->owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    self.guard(*c, "a connection's timer", [&] {
      if (c->in_message) {
        ++self.stats_.timeouts;
        self.fail_request(*c, 408,
                          c->headers_done
                              ? "the request body did not arrive in time"
                              : "the request headers did not arrive in time");
        return;
      }
      if (c->pending.empty()) {
        self.close_connection(*c);  // idle keep-alive: close quietly
      }
    });
  }

  // --- closing
  // ----------------------------------------------------------------

  void close_connection(connection& c) {
    if (c.closing) {
      return;
    }
    c.closing = true;
    if (c.flush_queued) {
      std::erase(dirty_streams_, &c);
      c.flush_queued = false;
    }
    if (draining_ || stopping_) {
      c.end_reason = stream_end::server_stopped;
    }
    abandon_pending(c);
    if (c.stream != nullptr) {
      end_stream(*c.stream, c.end_reason);
    }
    auto it = std::find(connections_.begin(), connections_.end(), &c);
    if (it != connections_.end()) {
      connections_.erase(it);
      --stats_.connections_open;
    }
    uv_timer_stop(&c.timer);
    auto done = [](uv_handle_t* h) {
      auto* conn = static_cast<connection*>(h->data);
      --conn->open_handles;
      release_if_closed(*conn);
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), done);
    if (c.budget_wait) {
      c.budget_wait = false;
      std::erase(budget_waiters_, &c);
    }
    if (draining_ && connections_.empty() && stop_promise_.pending()) {
      finish_stop();
    }
    if (!stopping_) {
      budget_freed();  // its unwritten answers are gone
    }
  }

  // Never touches the edge: close callbacks may run after it is gone
  // (the system stopping deletes it right after on_stop).
  static void release_if_closed(connection& c) {
    // Freed once both handles are closed and no write is in flight.
    if (c.open_handles == 0 && c.write_bytes == 0 && c.closing) {
      delete &c;
    }
  }

  // --- graceful stop
  // ----------------------------------------------------------

  void begin_stop() {
    stop_promise_ = make_response_promise<void>();
    draining_ = true;
    close_listener();
    std::vector<connection*> idle;
    for (connection* c : connections_) {
      if (c->pending.empty() && !c->in_message) {
        idle.push_back(c);
      }
    }
    for (connection* c : idle) {
      close_connection(*c);
    }
    if (connections_.empty()) {
      finish_stop();
      return;
    }
    after(cfg_.shutdown_grace, [this] {
      std::vector<connection*> all(connections_.begin(), connections_.end());
      for (connection* c : all) {
        close_connection(*c);
      }
      if (stop_promise_.pending()) {
        finish_stop();
      }
    });
  }

  void finish_stop() {
    stop_promise_.deliver();
    stop();
  }

  // --- metrics

  // The edge's and the runtime's counters at once; those of routers and
  // pollers come from asks, each into a writer of its own, merged in a
  // fixed order once all answered: the output does not depend on which
  // answered first, and each family keeps one header.
  void serve_metrics(connection& c, slot& s) {
    struct gather {
      prometheus_writer out;
      std::vector<prometheus_writer> parts;
      std::size_t waiting = 0;
      responder reply;
    };
    auto g = std::make_shared<gather>(
        gather{metrics_writer(), {}, 0, responder(s.state)});
    std::size_t n = cfg_.metrics_routers.size() + cfg_.metrics_pollers.size();
    if (n == 0) {
      complete(c, s.state->seq, metrics_response(g->out));
      return;
    }
    g->parts.resize(n);
    g->waiting = n;
    auto done = [g] {
      if (--g->waiting == 0) {
        for (const prometheus_writer& p : g->parts) {
          g->out.merge(p);
        }
        g->reply.send(metrics_response(g->out));
      }
    };
    std::size_t i = 0;
    for (const courier::router& r : cfg_.metrics_routers) {
      courier::detail::pending_ask_access::make<router_stats>(
          r.ref(), get_router_stats{}, std::chrono::milliseconds(2000))
          .then(
              [g, i, done, name = r.name()](router_stats st) {
                router_metrics(g->parts[i], name, st);
                done();
              },
              [done](const ask_error&) { done(); });
      ++i;
    }
    for (const auto& [name, ref] : cfg_.metrics_pollers) {
      courier::detail::pending_ask_access::make<poll_stats>(
          ref, get_poll_stats{}, std::chrono::milliseconds(2000))
          .then(
              [g, i, done, name = name](poll_stats st) {
                poller_metrics(g->parts[i], name, st);
                done();
              },
              [done](const ask_error&) { done(); });
      ++i;
    }
  }

  static response metrics_response(const prometheus_writer& w) {
    return response::text(200, w.str(),
                          "text/plain; version=0.0.4; charset=utf-8");
  }

  static void router_metrics(prometheus_writer& w, const std::string& name,
                             const router_stats& st) {
    using enum metric_type;
    w.metric("courier_router_published_total", counter, "Events published.",
             {{"router", name}}, st.published);
    w.metric("courier_router_delivered_total", counter,
             "Events handed to subscribers.", {{"router", name}}, st.delivered);
    w.metric("courier_router_dropped_total", counter,
             "Events dropped by overflow policies.", {{"router", name}},
             st.dropped);
    w.metric("courier_router_history_events", gauge, "Events kept in history.",
             {{"router", name}}, st.history_events);
    w.metric("courier_router_history_bytes", gauge,
             "Bytes of the events kept in history.", {{"router", name}},
             st.history_bytes);
    w.metric("courier_router_last_seq", gauge,
             "The last sequence number given.", {{"router", name}},
             st.last_seq);
    w.metric("courier_router_subscriptions", gauge, "Subscriptions now.",
             {{"router", name}}, st.subscriptions.size());
    const char* published = "courier_router_subject_published_total";
    const char* routed = "courier_router_subject_routed_total";
    const char* dropped = "courier_router_subject_dropped_total";
    w.family(published, counter, "Events published, by subject.");
    w.family(routed, counter,
             "Events times matching subscriptions, by subject.");
    w.family(dropped, counter, "Events dropped, by subject.");
    for (const auto& sub : st.subjects) {
      prometheus_writer::labels l = {{"router", name},
                                     {"subject", sub.subject}};
      w.sample(published, l, sub.published);
      w.sample(routed, l, sub.routed);
      w.sample(dropped, l, sub.dropped);
    }
  }

  static void poller_metrics(prometheus_writer& w, const std::string& name,
                             const poll_stats& st) {
    using enum metric_type;
    w.metric("courier_poller_polls_total", counter, "Polls started.",
             {{"poller", name}}, st.polls);
    w.metric("courier_poller_successes_total", counter, "Polls that succeeded.",
             {{"poller", name}}, st.successes);
    w.metric("courier_poller_failures_total", counter, "Polls that failed.",
             {{"poller", name}}, st.failures);
    w.metric("courier_poller_timeouts_total", counter,
             "Polls past their timeout.", {{"poller", name}}, st.timeouts);
    w.metric("courier_poller_changes_total", counter, "Values that changed.",
             {{"poller", name}}, st.changes);
    w.metric("courier_poller_backoff_ms", gauge, "The backoff now, in ms.",
             {{"poller", name}},
             static_cast<std::uint64_t>(st.current_backoff.count()));
    if (st.last_success) {
      w.metric("courier_poller_last_success_seconds", gauge,
               "Unix time of the last successful poll.", {{"poller", name}},
               static_cast<std::uint64_t>(
                   std::chrono::duration_cast<std::chrono::seconds>(
                       st.last_success->time_since_epoch())
                       .count()));
    }
  }

  prometheus_writer metrics_writer() {
    using enum metric_type;
    prometheus_writer w;
    w.metric("courier_http_connections_open", gauge, "Open connections.", {},
             stats_.connections_open);
    w.metric("courier_http_connections_accepted_total", counter,
             "Connections accepted.", {}, stats_.connections_accepted);
    w.metric("courier_http_connections_rejected_total", counter,
             "Connections refused with 503 (limit or stopping).", {},
             stats_.connections_rejected);
    w.metric("courier_http_bytes_received_total", counter, "Bytes read.", {},
             stats_.bytes_in);
    w.metric("courier_http_bytes_sent_total", counter, "Bytes written.", {},
             stats_.bytes_out);
    w.metric("courier_http_failures_total", counter,
             "Handlers and hooks that threw, contained by the edge.", {},
             stats_.failures);
    w.metric("courier_http_unwritten_bytes", gauge,
             "Bytes of answers built but not yet written.", {}, budget_->bytes);
    w.metric("courier_http_over_budget_total", counter,
             "Answers refused (503) or connections closed for the server's "
             "memory budget.",
             {}, stats_.over_budget);
    const char* requests = "courier_http_requests_total";
    w.family(requests, counter, "Requests by route and status.");
    for (const auto& [route, rc] : counters_) {
      for (const auto& [status, n] : rc.by_status) {
        w.sample(requests,
                 {{"route", route}, {"status", std::to_string(status)}}, n);
      }
    }
    w.family("courier_http_request_duration_seconds", histogram,
             "Time from the end of a request to its response, by route.");
    const char* bucket = "courier_http_request_duration_seconds_bucket";
    for (const auto& [route, rc] : counters_) {
      for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
        w.sample(bucket,
                 {{"route", route},
                  {"le", prometheus_writer::number(latency_buckets[i])}},
                 rc.buckets[i]);
      }
      w.sample(bucket, {{"route", route}, {"le", "+Inf"}}, rc.count);
      w.sample("courier_http_request_duration_seconds_sum", {{"route", route}},
               rc.sum);
      w.sample("courier_http_request_duration_seconds_count",
               {{"route", route}}, rc.count);
    }
    courier::metrics m = courier::detail::system_of(*this).snapshot();
    std::uint64_t actors = 0;
    std::uint64_t depth = 0;
    std::uint64_t timers = 0;
    for (const auto& l : m.loops) {
      actors += l.actors;
      depth += l.inbound_depth;
      timers += l.timers;
    }
    w.metric("courier_actors", gauge, "Live actors.", {}, actors);
    w.metric("courier_inbound_queue_depth", gauge,
             "Cross-thread messages waiting, all loops.", {}, depth);
    w.metric("courier_timers", gauge, "Pending actor timers.", {}, timers);
    w.metric("courier_dead_letters_total", counter,
             "Messages to stopped or unknown actors.", {}, m.dead_letters);
    w.metric("courier_unhandled_total", counter, "Messages no handler matched.",
             {}, m.unhandled);
    w.metric("courier_actor_failures_total", counter, "Handlers that threw.",
             {}, m.failures);
    w.metric("courier_ask_timeouts_total", counter, "Asks past their deadline.",
             {}, m.ask_timeouts);
    for (const auto& produce : cfg_.metrics_producers) {
      if (produce) {
        run_hook("a metrics producer", [&] { produce(w); });
      }
    }
    return w;
  }

  server_config cfg_;
  routes routes_;
  http_parser_settings settings_{};
  std::array<char, 64 * 1024> read_buffer_{};
  std::string scratch_;    // a response written straight to a socket
  std::string date_line_;  // see date_and_server()
  std::time_t date_at_ = 0;
  std::string json_scratch_;  // a JSON body on its way into scratch_
  uv_tcp_t* listener_ = nullptr;
  std::vector<connection*> connections_;
  // Streams with frames to write when the loop's turn ends.
  std::vector<connection*> dirty_streams_;
  courier::detail::loop* hook_loop_ = nullptr;
  std::shared_ptr<answer_budget> budget_ = std::make_shared<answer_budget>();
  std::vector<connection*> budget_waiters_;  // see budget_freed()
  bool resuming_ = false;
  std::map<std::string, route_counters, std::less<>> counters_;
  server_stats stats_;
  bool draining_ = false;
  bool stopping_ = false;
  response_promise<void> stop_promise_;
};

}  // namespace impl

void responder::send(response r) const {
  if (state_ == nullptr || state_->conn == nullptr) {
    return;
  }
  impl::connection& c = *state_->conn;
  c.owner->complete(c, state_->seq, std::move(r));
}

void responder::send_json(int status, const nlohmann::json& body) const {
  if (state_ == nullptr || state_->conn == nullptr) {
    return;
  }
  impl::connection& c = *state_->conn;
  c.owner->complete_json(c, state_->seq, status, body);
}

void responder::send_body(int status, std::string_view body,
                          std::string_view content_type) const {
  if (state_ == nullptr || state_->conn == nullptr) {
    return;
  }
  impl::connection& c = *state_->conn;
  c.owner->complete_body(c, state_->seq, status, body, content_type);
}

bool responder::done() const noexcept {
  return state_ == nullptr || state_->conn == nullptr;
}

stream responder::start_stream(response head, stream_options opts) const {
  auto st = std::make_shared<stream::state>();
  st->max_buffer = opts.max_buffer;
  st->on_end = std::move(opts.on_end);
  st->on_drain = std::move(opts.on_drain);
  if (state_ != nullptr && state_->conn != nullptr) {
    impl::connection& c = *state_->conn;
    c.owner->start_stream(c, state_->seq, std::move(head), st);
  }
  return stream(st);
}

void responder::on_abandon(std::function<void()> f) const {
  if (state_ != nullptr && state_->conn != nullptr) {
    state_->on_abandon = std::move(f);
  }
}

bool stream::write(std::shared_ptr<const std::string> bytes) const {
  if (state_ == nullptr || state_->conn == nullptr || state_->close_requested) {
    return false;
  }
  if (bytes->empty()) {
    return true;
  }
  return state_->conn->owner->stream_write(*state_, std::move(bytes));
}

bool stream::write(std::string bytes) const {
  return write(std::make_shared<const std::string>(std::move(bytes)));
}

void stream::close() const {
  if (state_ != nullptr && state_->conn != nullptr &&
      !state_->close_requested) {
    state_->conn->owner->stream_close(*state_);
  }
}

bool stream::open() const noexcept {
  return state_ != nullptr && state_->conn != nullptr &&
         !state_->close_requested;
}

std::size_t stream::buffered() const noexcept {
  return state_ == nullptr ? 0 : state_->queued_bytes + state_->writing_bytes;
}

namespace detail {
bool expose_errors_here() noexcept {
  courier::detail::loop* l = courier::detail::loop::current();
  actor* a = l == nullptr ? nullptr : l->current_actor();
  auto* e = dynamic_cast<impl::edge*>(a);
  return e != nullptr && e->expose_errors();
}

void send_failure(const responder& out, const std::exception& e) {
  courier::detail::loop* l = courier::detail::loop::current();
  if (auto* edge = dynamic_cast<impl::edge*>(
          l == nullptr ? nullptr : l->current_actor())) {
    edge->failed("an ask route's reply", e.what());
  }
  out.send(response::error(
      500, expose_errors_here() ? std::string("the reply failed: ") + e.what()
                                : std::string("the request failed")));
}
}  // namespace detail

server server::start(system& sys, server_config cfg, routes r) {
  spawn_options where;
  where.loop = cfg.loop;
  actor_ref ref = sys.spawn<impl::edge>(where, std::move(cfg), std::move(r));
  impl::listen_result res =
      ref.ask<impl::listen_result>(impl::listen_request{}).get();
  if (!res.error.empty()) {
    throw std::system_error(std::make_error_code(std::errc::address_in_use),
                            res.error);
  }
  server s;
  s.ref_ = ref;
  s.port_ = res.port;
  return s;
}

void server::stop() const {
  try {
    ref_.ask<void>(impl::stop_request{}, {.timeout = std::chrono::minutes(5)})
        .get();
  } catch (const ask_error& e) {
    if (e.value() != errc::target_dead && e.value() != errc::system_stopped) {
      throw;
    }
  }
}

server_stats server::stats() const {
  return ref_.ask<server_stats>(impl::stats_request{}).get();
}

}  // namespace courier::http
