// The SSE reader actor: one connection at a time, the response head parsed
// by http_parser, its body fed to an sse_parser, each event told to the
// target; on end or error, a reconnect after the stream's retry time with
// Last-Event-ID. uv callbacks check a token first: they may run after the
// actor is gone.

#include "courier/actor.hpp"
#include "courier/http_client.hpp"
#include "courier/system.hpp"

#include "../loop.hpp"
#include "http_impl.hpp"

#include <http_parser.h>
#include <uv.h>

#include <array>
#include <cctype>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace courier::http {

namespace impl {

class sse_actor;

namespace {

struct sse_token {};

struct sse_conn {
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  std::weak_ptr<sse_token> alive;
  sse_actor* owner = nullptr;
  http_parser parser{};
  bool closing = false;
  std::string field;  // the header being read, lower case
  bool field_done = false;
  std::string content_type;
};

struct sse_write {
  uv_write_t req{};
  std::string data;
};

}  // namespace

class sse_actor final : public actor {
 public:
  sse_actor(sse_reader_config cfg, url_parts url)
      : cfg_(std::move(cfg)),
        url_(std::move(url)),
        last_id_(cfg_.last_event_id),
        retry_(cfg_.reconnect) {
    settings_.on_header_field = &sse_actor::on_header_field;
    settings_.on_header_value = &sse_actor::on_header_value;
    settings_.on_headers_complete = &sse_actor::on_headers_complete;
    settings_.on_body = &sse_actor::on_body;
  }

 protected:
  courier::behavior behavior() override {
    return {[](const sse_status&) {
    }};
  }
  void on_start() override { connect(); }
  void on_stop() override {
    alive_.reset();
    close_conn();
  }

 private:
  void connect() {
    parser_ = std::make_unique<sse_parser>(cfg_.max_line);
    int rc =
        resolve(courier::detail::loop::current()->uv(), url_.host, url_.port,
                alive_, [this](int status, const sockaddr* address) {
                  courier::detail::loop::actor_scope scope(
                      *courier::detail::loop::current(), *this);
                  if (address == nullptr) {
                    lost(std::string("cannot resolve ") + url_.host + ": " +
                         uv_strerror(status));
                    return;
                  }
                  start_connect(*address);
                });
    if (rc != 0) {
      lost(std::string("cannot resolve: ") + uv_strerror(rc));
    }
  }

  void start_connect(const sockaddr& address) {
    auto* c = new sse_conn;
    c->alive = alive_;
    c->owner = this;
    uv_tcp_init(courier::detail::loop::current()->uv(), &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    conn_ = c;
    int rc = uv_tcp_connect(&c->connect, &c->tcp, &address,
                            &sse_actor::on_connected);
    if (rc != 0) {
      lost(std::string("cannot connect: ") + uv_strerror(rc));
      return;
    }
    after("sse.connect", cfg_.connect_timeout,
          [this] { lost("connect timed out"); });
  }

  static void on_connected(uv_connect_t* req, int status) {
    auto* c = static_cast<sse_conn*>(req->data);
    if (c->closing || c->alive.expired()) {
      return;
    }
    sse_actor& self = *c->owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    self.cancel_timer("sse.connect");
    if (status < 0) {
      self.lost(std::string("cannot connect: ") + uv_strerror(status));
      return;
    }
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    auto* w = new sse_write;
    w->data =
        "GET " + self.url_.target + " HTTP/1.1\r\nHost: " + self.url_.host +
        (self.url_.port == 80 ? "" : ":" + std::to_string(self.url_.port)) +
        "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (!self.last_id_.empty()) {
      w->data += "Last-Event-ID: " + self.last_id_ + "\r\n";
    }
    for (const auto& [k, v] : self.cfg_.headers.fields()) {
      w->data += k + ": " + v + "\r\n";
    }
    w->data += "\r\n";
    uv_buf_t buf =
        uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    uv_write(
        &w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
        [](uv_write_t* r, int) { delete reinterpret_cast<sse_write*>(r); });
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t* h, std::size_t, uv_buf_t* b) {
          sse_actor& owner = *static_cast<sse_conn*>(h->data)->owner;
          b->base = owner.read_buffer_.data();
          b->len = owner.read_buffer_.size();
        },
        &sse_actor::on_read);
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<sse_conn*>(s->data);
    if (c->closing || c->alive.expired()) {
      return;
    }
    sse_actor& self = *c->owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    if (n < 0) {
      self.lost(n == UV_EOF ? "the stream ended"
                            : uv_strerror(static_cast<int>(n)));
      return;
    }
    std::size_t parsed = http_parser_execute(
        &c->parser, &self.settings_, buf->base, static_cast<std::size_t>(n));
    if (self.failed_) {
      self.close_conn();
      self.stop();
      return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK ||
        parsed != static_cast<std::size_t>(n)) {
      self.lost(http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
    }
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t len) {
    auto* c = static_cast<sse_conn*>(p->data);
    if (c->field_done) {
      c->field.clear();
      c->field_done = false;
    }
    for (std::size_t i = 0; i < len; ++i) {
      c->field.push_back(
          static_cast<char>(std::tolower(static_cast<unsigned char>(at[i]))));
    }
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t len) {
    auto* c = static_cast<sse_conn*>(p->data);
    c->field_done = true;
    if (c->field == "content-type") {
      c->content_type.append(at, len);
    }
    return 0;
  }

  // WHATWG: a status other than 200, or a Content-Type other than
  // text/event-stream, fails the stream for good (no reconnect).
  static int on_headers_complete(http_parser* p) {
    auto* c = static_cast<sse_conn*>(p->data);
    sse_actor& self = *c->owner;
    int status = static_cast<int>(p->status_code);
    std::string_view type = c->content_type;
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') {
      type.remove_suffix(1);
    }
    if (status != 200 || type != "text/event-stream") {
      self.failed_ = true;
      self.cfg_.target.tell(sse_status{
          sse_status::failed, status,
          status != 200
              ? "HTTP " + std::to_string(status)
              : "Content-Type is not text/event-stream: " + c->content_type});
      return 1;
    }
    self.cfg_.target.tell(sse_status{sse_status::open, status, {}});
    return 0;
  }

  static int on_body(http_parser* p, const char* at, std::size_t len) {
    auto* c = static_cast<sse_conn*>(p->data);
    sse_actor& self = *c->owner;
    bool ok =
        self.parser_->feed(std::string_view(at, len), [&self](sse_event e) {
          self.last_id_ = e.id;
          self.cfg_.target.tell(std::move(e));
        });
    if (auto r = self.parser_->retry()) {
      self.retry_ = std::chrono::milliseconds(*r);
    }
    self.last_id_ = self.parser_->last_id();
    return ok ? 0 : 1;
  }

  void lost(const std::string& why) {
    close_conn();
    cancel_timer("sse.connect");
    cfg_.target.tell(sse_status{sse_status::reconnecting, 0, why});
    after("sse.reconnect", retry_, [this] { connect(); });
  }

  void close_conn() {
    if (conn_ == nullptr) {
      return;
    }
    conn_->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&conn_->tcp),
             [](uv_handle_t* h) { delete static_cast<sse_conn*>(h->data); });
    conn_ = nullptr;
  }

  sse_reader_config cfg_;
  url_parts url_;
  std::string last_id_;
  std::chrono::milliseconds retry_;
  std::unique_ptr<sse_parser> parser_;
  http_parser_settings settings_{};
  std::shared_ptr<sse_token> alive_ = std::make_shared<sse_token>();
  std::array<char, 64 * 1024> read_buffer_{};
  sse_conn* conn_ = nullptr;
  bool failed_ = false;
};

}  // namespace impl

sse_reader sse_reader::start(system& sys, sse_reader_config cfg) {
  impl::url_parts url;
  if (!impl::parse_url(cfg.url, url)) {
    throw std::invalid_argument("courier: not an http:// URL: " + cfg.url);
  }
  spawn_options where;
  where.loop = cfg.loop;
  sse_reader r;
  r.ref_ = sys.spawn<impl::sse_actor>(where, std::move(cfg), std::move(url));
  return r;
}

}  // namespace courier::http
