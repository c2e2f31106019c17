// The HTTP client actor: resolves with uv_getaddrinfo, connects with a
// uv_tcp_t, parses responses with http_parser, and keeps idle keep-alive
// connections per host:port. Timeouts are the actor's own timers. Every
// uv callback that may run after the actor is gone checks a token first.

#include "courier/actor.hpp"
#include "courier/http_client.hpp"
#include "courier/system.hpp"

#include "../loop.hpp"
#include "http_impl.hpp"

#include <http_parser.h>
#include <uv.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace courier::http {

const char* to_string(client_error e) noexcept {
  switch (e) {
    case client_error::none:
      return "none";
    case client_error::bad_url:
      return "bad url";
    case client_error::resolve_failed:
      return "name resolution failed";
    case client_error::connect_failed:
      return "connect failed";
    case client_error::timeout:
      return "timeout";
    case client_error::too_large:
      return "response too large";
    case client_error::protocol:
      return "protocol error";
    case client_error::closed:
      return "connection closed";
    case client_error::address_denied:
      return "address denied";
  }
  return "unknown";
}

namespace {

bool public_v4(const unsigned char* b) noexcept {
  return !(
      b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224 ||
      (b[0] == 100 && (b[1] & 0xC0) == 64) || (b[0] == 169 && b[1] == 254) ||
      (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168) ||
      (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) ||
      (b[0] == 198 && (b[1] & 0xFE) == 18) ||
      (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
      (b[0] == 203 && b[1] == 0 && b[2] == 113));
}

bool zeros(const unsigned char* b, std::size_t from, std::size_t to) noexcept {
  for (std::size_t i = from; i < to; ++i) {
    if (b[i] != 0) {
      return false;
    }
  }
  return true;
}

bool public_v6(const unsigned char* b) noexcept {
  if (zeros(b, 0, 10) && b[10] == 0xFF && b[11] == 0xFF) {
    return public_v4(b + 12);  // ::ffff:a.b.c.d
  }
  if (zeros(b, 0, 12)) {
    return false;  // ::, ::1 and the deprecated ::a.b.c.d
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B) {
    // NAT64 64:ff9b::/96 reaches the IPv4 address; 64:ff9b:1::/48 is local.
    return zeros(b, 4, 12) && public_v4(b + 12);
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    return public_v4(b + 2);  // 6to4
  }
  return !((b[0] == 0x01 && b[1] == 0x00 && zeros(b, 2, 8)) ||  // discard
           (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) ||
           (b[0] & 0xFE) == 0xFC ||                    // unique local
           (b[0] == 0xFE && (b[1] & 0x80) == 0x80) ||  // link/site-local
           b[0] == 0xFF);                              // multicast
}

bool public_address(const sockaddr& a) noexcept {
  if (a.sa_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    return public_v4(reinterpret_cast<const unsigned char*>(&in.sin_addr));
  }
  if (a.sa_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    return public_v6(in6.sin6_addr.s6_addr);
  }
  return false;
}

std::string address_text(const sockaddr& a) {
  char text[64] = "?";
  if (a.sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&a), text, sizeof text);
  } else if (a.sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&a), text, sizeof text);
  }
  return text;
}

}  // namespace

bool is_public_address(std::string_view address) noexcept {
  char text[64];
  if (address.size() >= sizeof text) {
    return false;
  }
  address.copy(text, address.size());
  text[address.size()] = '\0';
  unsigned char bytes[16];
  if (uv_inet_pton(AF_INET, text, bytes) == 0) {
    return public_v4(bytes);
  }
  if (uv_inet_pton(AF_INET6, text, bytes) == 0) {
    return public_v6(bytes);
  }
  return false;
}

namespace impl {

class client_actor;

namespace {

struct token {};  // alive while the client actor is

struct conn {
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  std::weak_ptr<token> alive;
  client_actor* owner = nullptr;
  std::uint64_t id = 0;
  std::string key;
  http_parser parser{};
  bool closing = false;
  bool connected = false;
  std::uint64_t request = 0;  // the request in progress, or 0 when idle
  bool got_bytes = false;
  // The response being parsed.
  client_response current;
  header_builder header;
  bool head = false;
  bool complete = false;
  client_error error = client_error::none;
  std::string error_message;
};

struct write_op {
  uv_write_t req{};
  std::string data;
};

}  // namespace

class client_actor final : public actor {
 public:
  explicit client_actor(client_config cfg) : cfg_(cfg) {
    settings_.on_header_field = &client_actor::on_header_field;
    settings_.on_header_value = &client_actor::on_header_value;
    settings_.on_headers_complete = &client_actor::on_headers_complete;
    settings_.on_body = &client_actor::on_body;
    settings_.on_message_complete = &client_actor::on_message_complete;
  }

 protected:
  courier::behavior behavior() override {
    return {[this](client_request& req) {
      auto promise = make_response_promise<client_result>();
      start(std::move(req), std::move(promise));
      return promise;
    }};
  }

  void on_stop() override {
    alive_.reset();
    for (auto& [id, p] : pending_) {
      p.promise.deliver(client_result{std::nullopt, client_error::closed,
                                      "the client stopped"});
    }
    pending_.clear();
    std::vector<conn*> all;
    for (auto& [id, c] : conns_) {
      all.push_back(c);
    }
    for (conn* c : all) {
      close_conn(*c);
    }
  }

 private:
  struct pending {
    client_request req;
    url_parts url;
    response_promise<client_result> promise;
    conn* connection = nullptr;
    bool reused = false;  // sent on an idle keep-alive connection
  };

  void start(client_request req, response_promise<client_result> promise) {
    url_parts url;
    if (!parse_url(req.url, url)) {
      promise.deliver(client_result{std::nullopt, client_error::bad_url,
                                    "not an http:// URL: " + req.url});
      return;
    }
    std::uint64_t id = ++next_id_;
    auto timeout = req.timeout;
    pending_.emplace(id, pending{std::move(req), std::move(url),
                                 std::move(promise), nullptr, false});
    after("request." + std::to_string(id), timeout, [this, id] {
      fail(id, client_error::timeout, "no complete response in time");
    });
    dispatch(id);
  }

  void dispatch(std::uint64_t id) {
    pending& p = pending_.at(id);
    auto& idle = idle_[p.url.key()];
    while (!idle.empty()) {
      conn* c = idle.back();
      idle.pop_back();
      if (!c->closing) {
        cancel_timer("idle." + std::to_string(c->id));
        p.reused = true;
        send(*c, id);
        return;
      }
    }
    int rc =
        resolve(courier::detail::loop::current()->uv(), p.url.host, p.url.port,
                alive_, [this, id](int status, const sockaddr* address) {
                  courier::detail::loop::actor_scope scope(
                      *courier::detail::loop::current(), *this);
                  auto it = pending_.find(id);
                  if (it == pending_.end()) {
                    return;  // timed out meanwhile
                  }
                  if (address == nullptr) {
                    fail(id, client_error::resolve_failed,
                         std::string("cannot resolve ") + it->second.url.host +
                             ": " + uv_strerror(status));
                    return;
                  }
                  connect(id, *address);
                });
    if (rc != 0) {
      fail(id, client_error::resolve_failed, uv_strerror(rc));
    }
  }

  void connect(std::uint64_t id, const sockaddr& addr) {
    pending& p = pending_.at(id);
    // Checked here, on the resolved address that the socket would use.
    if (cfg_.deny_private_addresses && !public_address(addr)) {
      std::string ip = address_text(addr);
      fail(id, client_error::address_denied,
           (p.url.host == ip ? ip : p.url.host + " resolves to " + ip) +
               ", not a public address");
      return;
    }
    auto* c = new conn;
    c->alive = alive_;
    c->owner = this;
    c->id = ++next_conn_;
    c->key = p.url.key();
    c->request = id;
    uv_tcp_init(courier::detail::loop::current()->uv(), &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    conns_[c->id] = c;
    p.connection = c;
    int rc = uv_tcp_connect(&c->connect, &c->tcp, &addr,
                            &client_actor::on_connected);
    if (rc != 0) {
      fail(id, client_error::connect_failed, uv_strerror(rc));
      return;
    }
    after("connect." + std::to_string(id), cfg_.connect_timeout, [this, id] {
      fail(id, client_error::connect_failed, "connect timed out");
    });
  }

  static void on_connected(uv_connect_t* req, int status) {
    auto* c = static_cast<conn*>(req->data);
    if (c->closing || c->alive.expired()) {
      return;
    }
    client_actor& self = *c->owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    std::uint64_t id = c->request;
    self.cancel_timer("connect." + std::to_string(id));
    if (status < 0) {
      self.fail(id, client_error::connect_failed,
                std::string("cannot connect: ") + uv_strerror(status));
      return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        // One buffer per client: on_read consumes it before the next read.
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
          client_actor& owner = *static_cast<conn*>(h->data)->owner;
          buf->base = owner.read_buffer_.data();
          buf->len = owner.read_buffer_.size();
        },
        &client_actor::on_read);
    self.send(*c, id);
  }

  void send(conn& c, std::uint64_t id) {
    pending& p = pending_.at(id);
    p.connection = &c;
    c.request = id;
    c.got_bytes = false;
    c.current = client_response{};
    c.header.reset();
    c.complete = false;
    c.error = client_error::none;
    c.head = p.req.method == "HEAD";
    http_parser_init(&c.parser, HTTP_RESPONSE);
    c.parser.data = &c;
    auto* w = new write_op;
    std::string& d = w->data;
    d = p.req.method + " " + p.url.target + " HTTP/1.1\r\nHost: " + p.url.host +
        (p.url.port == 80 ? "" : ":" + std::to_string(p.url.port)) + "\r\n";
    for (const auto& [k, v] : p.req.headers.fields()) {
      d += k + ": " + v + "\r\n";
    }
    if (!p.req.body.empty() || p.req.method == "POST" ||
        p.req.method == "PUT") {
      if (!p.req.headers.contains("Content-Length")) {
        d += "Content-Length: " + std::to_string(p.req.body.size()) + "\r\n";
      }
    }
    d += "\r\n";
    d += p.req.body;
    uv_buf_t buf = uv_buf_init(d.data(), static_cast<unsigned>(d.size()));
    int rc = uv_write(
        &w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1,
        [](uv_write_t* r, int) { delete reinterpret_cast<write_op*>(r); });
    if (rc != 0) {
      delete w;
      fail(id, client_error::closed, uv_strerror(rc));
    }
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<conn*>(s->data);
    if (c->closing || c->alive.expired()) {
      return;
    }
    client_actor& self = *c->owner;
    courier::detail::loop::actor_scope scope(*courier::detail::loop::current(),
                                             self);
    if (c->request == 0) {
      self.close_conn(*c);  // an idle connection: closed or spoke unasked
      return;
    }
    if (n < 0) {
      // EOF ends a response that runs until the close.
      if (n == UV_EOF && c->got_bytes) {
        http_parser_execute(&c->parser, &self.settings_, nullptr, 0);
        if (c->complete) {
          self.finish(*c, false);
          return;
        }
      }
      self.connection_lost(*c);
      return;
    }
    if (n == 0) {
      return;
    }
    c->got_bytes = true;
    std::size_t parsed = http_parser_execute(
        &c->parser, &self.settings_, buf->base, static_cast<std::size_t>(n));
    if (c->error != client_error::none) {
      self.fail(c->request, c->error, c->error_message);
      return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK ||
        parsed != static_cast<std::size_t>(n)) {
      self.fail(c->request, client_error::protocol,
                http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
      return;
    }
    if (c->complete) {
      self.finish(*c, http_should_keep_alive(&c->parser) != 0);
    }
  }

  // The connection died during a request. A reused keep-alive connection
  // that the server had closed gets one retry on a fresh one.
  void connection_lost(conn& c) {
    std::uint64_t id = c.request;
    auto it = pending_.find(id);
    bool retry = it != pending_.end() && it->second.reused && !c.got_bytes;
    close_conn(c);
    if (retry) {
      it->second.reused = false;
      it->second.connection = nullptr;
      dispatch_fresh(id);
      return;
    }
    fail(id, client_error::closed,
         "the connection closed before the "
         "response ended");
  }

  void dispatch_fresh(std::uint64_t id) {
    idle_.erase(pending_.at(id).url.key());
    dispatch(id);
  }

  static conn& conn_of(http_parser* p) { return *static_cast<conn*>(p->data); }

  static int on_header_field(http_parser* p, const char* at, std::size_t len) {
    conn& c = conn_of(p);
    c.header.on_field(std::string_view(at, len));
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t len) {
    conn& c = conn_of(p);
    c.header.on_value(c.current.headers, std::string_view(at, len));
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    conn& c = conn_of(p);
    c.current.status = static_cast<int>(p->status_code);
    if ((p->flags & F_CONTENTLENGTH) != 0 &&
        p->content_length > c.owner->cfg_.max_response_bytes) {
      c.error = client_error::too_large;
      c.error_message = "Content-Length " + std::to_string(p->content_length);
      return -1;
    }
    return c.head ? 1 : 0;  // a HEAD response has no body
  }

  static int on_body(http_parser* p, const char* at, std::size_t len) {
    conn& c = conn_of(p);
    if (c.current.body.size() + len > c.owner->cfg_.max_response_bytes) {
      c.error = client_error::too_large;
      c.error_message = "more than " +
                        std::to_string(c.owner->cfg_.max_response_bytes) +
                        " bytes";
      return 1;
    }
    c.current.body.append(at, len);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    conn_of(p).complete = true;
    return 0;
  }

  void finish(conn& c, bool keep_alive) {
    std::uint64_t id = c.request;
    auto it = pending_.find(id);
    c.request = 0;
    if (it != pending_.end()) {
      cancel_timer("request." + std::to_string(id));
      it->second.promise.deliver(
          client_result{std::move(c.current), client_error::none, {}});
      pending_.erase(it);
    }
    auto& idle = idle_[c.key];
    if (!keep_alive || idle.size() >= cfg_.max_idle_per_host) {
      close_conn(c);
      return;
    }
    idle.push_back(&c);
    conn* cp = &c;
    after("idle." + std::to_string(c.id), cfg_.idle_timeout,
          [this, cp] { close_conn(*cp); });
  }

  void fail(std::uint64_t id, client_error e, const std::string& message) {
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      return;
    }
    cancel_timer("request." + std::to_string(id));
    cancel_timer("connect." + std::to_string(id));
    conn* c = it->second.connection;
    it->second.promise.deliver(client_result{std::nullopt, e, message});
    pending_.erase(it);
    if (c != nullptr && c->request == id) {
      close_conn(*c);  // its state is unknown now
    }
  }

  void close_conn(conn& c) {
    if (c.closing) {
      return;
    }
    c.closing = true;
    cancel_timer("idle." + std::to_string(c.id));
    auto idle = idle_.find(c.key);
    if (idle != idle_.end()) {
      std::erase(idle->second, &c);
    }
    conns_.erase(c.id);
    // The close callback frees the connection and touches nothing else.
    uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp),
             [](uv_handle_t* h) { delete static_cast<conn*>(h->data); });
  }

  client_config cfg_;
  http_parser_settings settings_{};
  std::shared_ptr<token> alive_ = std::make_shared<token>();
  std::array<char, 64 * 1024> read_buffer_{};
  std::unordered_map<std::uint64_t, pending> pending_;
  std::unordered_map<std::uint64_t, conn*> conns_;
  std::map<std::string, std::vector<conn*>> idle_;
  std::uint64_t next_id_ = 0;
  std::uint64_t next_conn_ = 0;
};

}  // namespace impl

client client::start(system& sys, client_config cfg) {
  spawn_options where;
  where.loop = cfg.loop;
  client c;
  c.ref_ = sys.spawn<impl::client_actor>(where, cfg);
  return c;
}

client_response client::request(client_request req) const {
  auto timeout = req.timeout;
  client_result r =
      ref_.ask<client_result>(std::move(req),
                              {.timeout = timeout + std::chrono::seconds(2)})
          .get();
  if (!r.response) {
    throw client_failure(r.error,
                         std::string(to_string(r.error)) + ": " + r.message);
  }
  return std::move(*r.response);
}

}  // namespace courier::http
