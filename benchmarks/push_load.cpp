// courier_push_load: a single-threaded libuv load client for push servers
// (courier's hub, nginx + nchan). It opens C subscribers, publishes E
// events by HTTP POST, and checks that every subscriber gets every event
// exactly once, with the publish-to-delivery latency of each.
//
//   courier_push_load sse  --sub URL --pub URL [-c C] [-n E] [-b B] ...
//   courier_push_load poll --sub URL --pub URL [--server courier|nchan] ...
//   courier_push_load idle --sub URL [-c C] [--hold S] [--pid PID]
//
// Prints one line of key=value results. See push.sh for the comparison.

#include "courier/sse.hpp"

#include <http_parser.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "courier_push_load: %s\n", why.c_str());
  std::exit(2);
}

// http://127.0.0.1:PORT/path?query; only 127.0.0.1 (or localhost).
struct url {
  int port = 0;
  std::string target;    // path and query
  std::string hostport;  // for the Host header
};

url parse_url(std::string_view s) {
  constexpr std::string_view scheme = "http://";
  if (s.substr(0, scheme.size()) != scheme) {
    die("only http:// URLs: " + std::string(s));
  }
  s.remove_prefix(scheme.size());
  std::size_t slash = s.find('/');
  std::string_view hp = s.substr(0, slash);
  url u;
  u.target =
      slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  std::size_t colon = hp.rfind(':');
  std::string_view host = hp.substr(0, colon);
  if (host != "127.0.0.1" && host != "localhost") {
    die("only 127.0.0.1 is allowed: " + std::string(hp));
  }
  u.port = colon == std::string_view::npos
               ? 80
               : std::atoi(std::string(hp.substr(colon + 1)).c_str());
  u.hostport = "127.0.0.1:" + std::to_string(u.port);
  return u;
}

enum class mode { sse, poll, idle };
enum class flavor { courier, nchan };

struct config {
  mode m = mode::sse;
  flavor server = flavor::courier;
  url sub;
  url pub;
  bool has_pub = false;
  std::string token;
  std::string content_type = "application/json";
  std::size_t clients = 100;
  std::size_t events = 100;
  std::size_t bytes = 100;
  std::size_t window = 32;  // publishes in flight
  double rate = 0;          // events/s; 0: as fast as the window allows
  double deadline = 60;     // seconds for the whole run
  double hold = 5;          // idle: seconds to hold the connections
  double settle = 0.2;      // seconds between ready and publishing
  long batch_us = 0;        // pause per loop turn, so that reads batch up
  int poll_timeout = 30;    // courier poll: timeout=S
  std::size_t connect_window = 512;
  long pid = 0;
  std::string label;
};

// The integer after the JSON key `name` in `s`, where `s` is JSON text or
// a JSON string holding JSON text (quotes escaped).
std::optional<std::uint64_t> number_field(std::string_view s,
                                          std::string_view name) {
  for (std::size_t pos = s.find(name); pos != std::string_view::npos;
       pos = s.find(name, pos + 1)) {
    if (pos == 0 || s[pos - 1] != '"') {
      continue;
    }
    std::size_t i = pos + name.size();
    if (i < s.size() && s[i] == '\\') {
      ++i;
    }
    if (i >= s.size() || s[i] != '"') {
      continue;
    }
    ++i;
    while (i < s.size() && s[i] == ' ') {
      ++i;
    }
    if (i >= s.size() || s[i] != ':') {
      continue;
    }
    ++i;
    while (i < s.size() && s[i] == ' ') {
      ++i;
    }
    std::uint64_t v = 0;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
      ++i;
    }
    if (i > start) {
      return v;
    }
  }
  return std::nullopt;
}

std::string read_status_kb(long pid, std::string_view key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      return line.substr(key.size());
    }
  }
  return "";
}

// CPU seconds (user + system) that process `pid` has used.
double cpu_seconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) {
    return 0;
  }
  // After "pid (comm)": state is field 3; utime and stime are 14 and 15.
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) {
      ticks += std::atof(field.c_str());
    }
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long rss_kb(long pid) {
  return std::atol(read_status_kb(pid, "VmRSS:").c_str());
}

class load;

enum class role { subscriber, publisher, probe };

// One TCP connection with its HTTP response parser.
struct conn {
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  http_parser parser{};
  load* owner = nullptr;
  role r = role::subscriber;
  std::size_t index = 0;
  bool connected = false;
  bool closing = false;
  bool established = false;
  bool failed = false;
  bool complete = false;
  std::string request;  // the subscriber's current request, kept for write
  std::string body;
  std::string field;
  std::string value;
  bool in_value = false;
  std::string last_modified;  // nchan long polling
  std::string etag;
  std::string content_type;
  std::string next;  // courier long polling
  bool polled_once = false;
  bool reopen = false;
  courier::http::sse_parser sse{1 << 20};
  std::vector<std::uint64_t> seen;
  std::size_t received = 0;
};

struct write_req {
  uv_write_t req{};
  std::string data;
};

class load {
 public:
  explicit load(config cfg) : cfg_(std::move(cfg)) {
    uv_loop_init(&loop_);
    http_parser_settings_init(&settings_);
    settings_.on_message_begin = &load::on_message_begin;
    settings_.on_header_field = &load::on_header_field;
    settings_.on_header_value = &load::on_header_value;
    settings_.on_headers_complete = &load::on_headers_complete;
    settings_.on_body = &load::on_body;
    settings_.on_message_complete = &load::on_message_complete;
    latencies_.reserve(std::min<std::size_t>(cfg_.clients * cfg_.events,
                                             std::size_t{1} << 26));
  }

  int run() {
    start_ns_ = now_ns();
    if (cfg_.m == mode::idle && cfg_.pid != 0) {
      rss_before_ = rss_kb(cfg_.pid);
    }
    uv_timer_init(&loop_, &deadline_);
    deadline_.data = this;
    uv_timer_start(
        &deadline_,
        [](uv_timer_t* t) { static_cast<load*>(t->data)->finish(true); },
        static_cast<std::uint64_t>(cfg_.deadline * 1000), 0);
    uv_timer_init(&loop_, &phase_);
    phase_.data = this;
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    uv_timer_start(
        &tick_, [](uv_timer_t* t) { static_cast<load*>(t->data)->tick(); }, 1,
        1);
    // A server that writes each event to each socket on its own makes the
    // client read one event per syscall, and the client, not the server,
    // becomes the limit on a small machine. A pause per loop turn lets the
    // socket buffers fill, so one read takes many events; the server's
    // work is the same (its writes are not batched by this).
    uv_check_init(&loop_, &pause_);
    pause_.data = this;
    if (cfg_.batch_us > 0) {
      uv_check_start(&pause_, [](uv_check_t* h) {
        usleep(static_cast<useconds_t>(
            static_cast<load*>(h->data)->cfg_.batch_us));
      });
    }
    subs_.reserve(cfg_.clients);
    for (std::size_t i = 0; i < cfg_.clients; ++i) {
      subs_.push_back(std::make_unique<conn>());
      subs_.back()->index = i;
      subs_.back()->seen.assign((cfg_.events + 63) / 64, 0);
    }
    if (cfg_.has_pub && cfg_.m != mode::idle) {
      pub_ = open(role::publisher, 0, cfg_.pub);
    }
    launch_more();
    uv_run(&loop_, UV_RUN_DEFAULT);
    report();
    uv_loop_close(&loop_);
    return 0;
  }

 private:
  // --- connections ------------------------------------------------------

  conn* open(role r, std::size_t index, const url& u) {
    conn* c = nullptr;
    if (r == role::subscriber) {
      c = subs_[index].get();
    } else {
      extra_.push_back(std::make_unique<conn>());
      c = extra_.back().get();
    }
    c->owner = this;
    c->r = r;
    c->index = index;
    uv_tcp_init(&loop_, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", u.port, &addr);
    int rc = uv_tcp_connect(&c->connect, &c->tcp,
                            reinterpret_cast<const sockaddr*>(&addr),
                            &load::on_connect);
    if (rc != 0) {
      fail(c, "connect");
    }
    return c;
  }

  static void on_connect(uv_connect_t* req, int status) {
    auto* c = static_cast<conn*>(req->data);
    load* self = c->owner;
    if (status != 0) {
      if (status != UV_ECANCELED) {
        self->fail(c, uv_strerror(status));
      }
      return;
    }
    c->connected = true;
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
          auto* o = static_cast<conn*>(h->data)->owner;
          *buf = uv_buf_init(o->read_buf_, sizeof(o->read_buf_));
        },
        &load::on_read);
    switch (c->r) {
      case role::subscriber:
        self->subscribe(c);
        break;
      case role::publisher:
        self->pump();
        break;
      case role::probe:
        self->send(c, "GET " + self->cfg_.pub.target +
                          " HTTP/1.1\r\nHost: " + self->cfg_.pub.hostport +
                          "\r\nAccept: application/json\r\n"
                          "Connection: close\r\n\r\n");
        break;
    }
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<conn*>(s->data);
    load* self = c->owner;
    if (n < 0) {
      if (c->r == role::probe) {
        self->close(c, false);
      } else {
        self->fail(c, n == UV_EOF ? "closed by the server" : uv_strerror(n));
      }
      return;
    }
    std::size_t done = http_parser_execute(
        &c->parser, &self->settings_, buf->base, static_cast<std::size_t>(n));
    if (!c->closing && done != static_cast<std::size_t>(n)) {
      self->fail(c, http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
    }
  }

  void send(conn* c, std::string bytes) {
    auto w = std::make_unique<write_req>();
    w->data = std::move(bytes);
    w->req.data = w.get();
    uv_buf_t b =
        uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc =
        uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1,
                 [](uv_write_t* r, int) {
                   std::unique_ptr<write_req>(static_cast<write_req*>(r->data));
                 });
    if (rc != 0) {
      fail(c, "write");
      return;
    }
    (void)w.release();  // the write callback owns it now
  }

  // Ends a connection with a reset, so that tens of thousands of runs do not
  // leave the client's ports in TIME_WAIT.
  void close(conn* c, bool reset) {
    if (c->closing) {
      return;
    }
    c->closing = true;
    auto* h = reinterpret_cast<uv_handle_t*>(&c->tcp);
    if (uv_is_closing(h) != 0) {
      return;
    }
    if (!reset || !c->connected ||
        uv_tcp_close_reset(&c->tcp, &load::on_closed) != 0) {
      uv_close(h, &load::on_closed);
    }
  }

  // A long-poll subscriber whose server closed the keep-alive connection
  // after an answer (nginx's keepalive_requests) polls on a new one.
  static void on_closed(uv_handle_t* h) {
    auto* c = static_cast<conn*>(h->data);
    if (!c->reopen || c->owner->finished_) {
      return;
    }
    c->reopen = false;
    c->closing = false;
    c->connected = false;
    c->owner->open(role::subscriber, c->index, c->owner->cfg_.sub);
  }

  void fail(conn* c, const char* why) {
    if (c->closing) {
      return;
    }
    if (c->r == role::subscriber) {
      if (!c->complete && !finished_) {
        ++conn_errors_;
        if (conn_errors_ <= 3) {
          std::fprintf(stderr, "subscriber %zu: %s\n", c->index, why);
        }
        c->failed = true;
        ++failed_;
        if (!c->established) {
          ++settled_;
          launch_more();
        }
      }
    } else if (c->r == role::publisher && !finished_) {
      // A server may close a keep-alive connection after so many requests
      // (nginx's keepalive_requests): reconnect; what was in flight is lost.
      if (pub_in_flight_ > 0 || !c->connected) {
        pub_errors_ += std::max<std::size_t>(pub_in_flight_, 1);
        std::fprintf(stderr, "publisher: %s with %zu in flight\n", why,
                     pub_in_flight_);
      }
      pub_in_flight_ = 0;
      pub_sent_.clear();
      close(c, true);
      if (c->connected && ++pub_reconnects_ < 1000) {
        pub_ = open(role::publisher, 0, cfg_.pub);
      }
      return;
    }
    close(c, true);
    check_done();
  }

  // --- subscribers ------------------------------------------------------

  void launch_more() {
    while (launched_ < cfg_.clients &&
           launched_ - settled_ < cfg_.connect_window) {
      open(role::subscriber, launched_++, cfg_.sub);
    }
    if (settled_ == cfg_.clients && !ready_) {
      ready_ = true;
      ready_ns_ = now_ns();
      std::fprintf(stderr, "ready: %zu subscribers (%zu failed) in %.2f s\n",
                   cfg_.clients - failed_, failed_,
                   static_cast<double>(ready_ns_ - start_ns_) / 1e9);
      on_ready();
    }
  }

  void establish(conn* c) {
    if (!c->established) {
      c->established = true;
      ++settled_;
      launch_more();
    }
  }

  std::string poll_target(const conn* c) const {
    const std::string& t = cfg_.sub.target;
    std::string q = t.find('?') == std::string::npos ? "?" : "&";
    if (!c->polled_once) {
      return t + q + "timeout=0";
    }
    return t + q + "since=" + c->next +
           "&timeout=" + std::to_string(cfg_.poll_timeout);
  }

  void subscribe(conn* c) {
    std::string req = "GET ";
    if (cfg_.m == mode::poll && cfg_.server == flavor::courier) {
      req += poll_target(c);
    } else {
      req += cfg_.sub.target;
    }
    req += " HTTP/1.1\r\nHost: " + cfg_.sub.hostport + "\r\n";
    if (cfg_.m != mode::poll) {
      req += "Accept: text/event-stream\r\nCache-Control: no-cache\r\n";
    } else if (cfg_.server == flavor::nchan && !c->etag.empty()) {
      req += "If-Modified-Since: " + c->last_modified +
             "\r\nIf-None-Match: " + c->etag + "\r\n";
    }
    req += "\r\n";
    ++requests_;
    send(c, std::move(req));
    if (cfg_.m == mode::poll && cfg_.server == flavor::nchan) {
      establish(c);  // nchan answers a long poll only with a message
    }
  }

  void deliver(conn* c, std::string_view data) {
    auto k = number_field(data, "k");
    auto t = number_field(data, "t");
    if (!k || !t || *k >= cfg_.events) {
      ++other_;
      return;
    }
    std::uint64_t now = now_ns();
    std::uint64_t& word = c->seen[*k / 64];
    std::uint64_t bit = std::uint64_t{1} << (*k % 64);
    if ((word & bit) != 0) {
      ++dup_;
      return;
    }
    word |= bit;
    ++deliveries_;
    last_delivery_ns_ = now;
    latencies_.push_back(static_cast<std::uint32_t>(
        std::min<std::uint64_t>((now - *t) / 1000, UINT32_MAX)));
    if (++c->received == cfg_.events) {
      c->complete = true;
      ++complete_;
      check_done();
    }
  }

  // A courier long-poll answer: {"events":[{"id","subject","data"}],"next"}.
  // Scanned, not parsed into a DOM: per event the client then costs about
  // what the nchan path costs (a substring per message), so the figure
  // measures the server. The benchmark's payloads are flat JSON objects
  // (no nested braces, no escapes), which makes the scan exact.
  void courier_poll_answer(conn* c) {
    std::string_view body = c->body;
    constexpr std::string_view next_key = "\"next\":\"";
    std::size_t n = body.rfind(next_key);
    if (body.empty() || body.front() != '{' || n == std::string_view::npos) {
      ++http_errors_;
      return;
    }
    std::size_t n_end = body.find('"', n + next_key.size());
    c->next = std::string(
        body.substr(n + next_key.size(), n_end - n - next_key.size()));
    if (body.find("\"reset\":true", n) != std::string_view::npos) {
      ++resets_;
    }
    if (c->polled_once) {
      constexpr std::string_view data_key = "\"data\":";
      for (std::size_t at = body.find(data_key); at < n;
           at = body.find(data_key, at)) {
        std::size_t start = at + data_key.size();
        std::size_t end = start;
        if (body[start] == '{') {
          end = body.find('}', start) + 1;
          deliver(c, body.substr(start, end - start));
        } else if (body[start] == '"') {
          end = body.find('"', start + 1);
          deliver(c, body.substr(start + 1, end - start - 1));
        }
        at = end;
      }
    }
    bool first = !c->polled_once;
    c->polled_once = true;
    if (first) {
      establish(c);
    }
  }

  // An nchan long-poll answer: one message, or several as multipart/mixed
  // (nchan_longpoll_multipart_response on).
  void nchan_answer(conn* c) {
    constexpr std::string_view multipart = "multipart/mixed";
    std::string_view type = c->content_type;
    std::size_t b = type.find("boundary=");
    if (type.substr(0, multipart.size()) != multipart ||
        b == std::string_view::npos) {
      deliver(c, c->body);
      return;
    }
    std::string delimiter = "--" + std::string(type.substr(b + 9));
    std::string_view body = c->body;
    std::size_t at = body.find(delimiter);
    while (at != std::string_view::npos) {
      std::size_t start = at + delimiter.size();
      std::size_t next = body.find("\r\n" + delimiter, start);
      if (next == std::string_view::npos) {
        break;  // the closing delimiter
      }
      std::string_view part = body.substr(start, next - start);
      std::size_t head_end = part.find("\r\n\r\n");
      if (head_end != std::string_view::npos) {
        deliver(c, part.substr(head_end + 4));
      }
      at = next + 2;
    }
  }

  void poll_answered(conn* c) {
    int status = c->parser.status_code;
    if (cfg_.server == flavor::courier) {
      if (status == 200) {
        courier_poll_answer(c);
      } else {
        ++http_errors_;
      }
    } else if (status == 200) {
      nchan_answer(c);
    } else if (status != 304 && status != 408) {
      ++http_errors_;
    }
    if (finished_ || c->complete || c->closing) {
      return;
    }
    if (http_should_keep_alive(&c->parser) == 0) {
      ++reconnects_;
      c->reopen = true;
      close(c, false);
      return;
    }
    if (status != 200 && status != 304 && status != 408) {
      retry_.push_back(c);  // re-poll from the ticker, not in a hot loop
      return;
    }
    subscribe(c);
  }

  // --- publishing -------------------------------------------------------

  void on_ready() {
    if (cfg_.m == mode::idle) {
      uv_timer_start(
          &phase_,
          [](uv_timer_t* t) { static_cast<load*>(t->data)->idle_measure(); },
          1000, 0);
      return;
    }
    if (cfg_.server == flavor::nchan) {
      probe();  // wait until nchan counts every subscriber
    } else {
      start_publishing_after(cfg_.settle);
    }
  }

  void probe() {
    if (!finished_) {
      open(role::probe, 0, cfg_.pub);
    }
  }

  void probe_answered(conn* c) {
    auto j = nlohmann::json::parse(c->body, nullptr, false);
    std::size_t n = 0;
    if (!j.is_discarded() && j.is_object() && j.contains("subscribers")) {
      n = j["subscribers"].get<std::size_t>();
    }
    close(c, false);
    if (n >= cfg_.clients - failed_) {
      start_publishing_after(cfg_.settle);
      return;
    }
    uv_timer_start(
        &phase_, [](uv_timer_t* t) { static_cast<load*>(t->data)->probe(); },
        50, 0);
  }

  void start_publishing_after(double seconds) {
    uv_timer_start(
        &phase_,
        [](uv_timer_t* t) {
          auto* self = static_cast<load*>(t->data);
          self->publishing_ = true;
          self->pub_start_ns_ = now_ns();
          self->cpu_start_ = self->cpu_now();
          self->pump();
        },
        static_cast<std::uint64_t>(seconds * 1000), 0);
  }

  // Every millisecond: refills the rate budget and re-polls the clients
  // that got an error answer.
  void tick() {
    if (!retry_.empty()) {
      auto again = std::move(retry_);
      retry_.clear();
      for (conn* c : again) {
        if (!c->closing && !finished_) {
          subscribe(c);
        }
      }
    }
    pump();
  }

  std::string payload(std::size_t k) const {
    std::string p = "{\"k\":" + std::to_string(k) +
                    ",\"t\":" + std::to_string(now_ns()) + ",\"pad\":\"";
    if (p.size() + 2 < cfg_.bytes) {
      p.append(cfg_.bytes - p.size() - 2, 'x');
    }
    p += "\"}";
    return p;
  }

  void pump() {
    if (!publishing_ || pub_ == nullptr || !pub_->connected || pub_->closing ||
        finished_) {
      return;
    }
    std::size_t allowed = cfg_.events;
    if (cfg_.rate > 0) {
      double elapsed = static_cast<double>(now_ns() - pub_start_ns_) / 1e9;
      allowed = std::min<std::size_t>(
          cfg_.events, static_cast<std::size_t>(elapsed * cfg_.rate) + 1);
    }
    std::string batch;
    while ((!resend_.empty() || next_k_ < allowed) &&
           pub_in_flight_ < cfg_.window) {
      std::size_t k = next_k_;
      if (!resend_.empty()) {
        k = resend_.back();
        resend_.pop_back();
      } else {
        ++next_k_;
      }
      pub_sent_.push_back(k);
      std::string body = payload(k);
      batch += "POST " + cfg_.pub.target +
               " HTTP/1.1\r\nHost: " + cfg_.pub.hostport +
               "\r\nContent-Type: " + cfg_.content_type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
      if (!cfg_.token.empty()) {
        batch += "Authorization: Bearer " + cfg_.token + "\r\n";
      }
      batch += "\r\n";
      batch += body;
      ++pub_in_flight_;
    }
    if (!batch.empty()) {
      send(pub_, std::move(batch));
    }
  }

  void published(conn* c) {
    --pub_in_flight_;
    pub_sent_.pop_front();
    int status = c->parser.status_code;
    if (status < 200 || status > 299) {
      if (++pub_errors_ <= 3) {
        std::fprintf(stderr, "publish answered %d: %.200s\n", status,
                     c->body.c_str());
      }
    }
    if (http_should_keep_alive(&c->parser) == 0) {
      // The server closes after this answer (nginx's keepalive_requests),
      // so it did not read the requests pipelined behind it: send them
      // again on a new connection.
      resend_.assign(pub_sent_.rbegin(), pub_sent_.rend());
      pub_sent_.clear();
      pub_in_flight_ = 0;
      ++pub_reconnects_;
      close(c, false);
      pub_ = open(role::publisher, 0, cfg_.pub);
      return;
    }
    pump();
  }

  // --- http_parser callbacks ---------------------------------------------

  static conn* of(http_parser* p) { return static_cast<conn*>(p->data); }

  static int on_message_begin(http_parser* p) {
    conn* c = of(p);
    c->body.clear();
    c->field.clear();
    c->value.clear();
    c->in_value = false;
    c->content_type.clear();
    return 0;
  }

  static void header_done(conn* c) {
    if (c->field.empty()) {
      return;
    }
    if (strcasecmp(c->field.c_str(), "Last-Modified") == 0) {
      c->last_modified = c->value;
    } else if (strcasecmp(c->field.c_str(), "Etag") == 0) {
      c->etag = c->value;
    } else if (strcasecmp(c->field.c_str(), "Content-Type") == 0) {
      c->content_type = c->value;
    }
    c->field.clear();
    c->value.clear();
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t n) {
    conn* c = of(p);
    if (c->in_value) {
      header_done(c);
      c->in_value = false;
    }
    c->field.append(at, n);
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t n) {
    conn* c = of(p);
    c->in_value = true;
    c->value.append(at, n);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    conn* c = of(p);
    header_done(c);
    c->in_value = false;
    load* self = c->owner;
    if (c->r == role::subscriber && self->cfg_.m != mode::poll) {
      if (p->status_code != 200) {
        ++self->http_errors_;
        self->fail(c, "the stream was refused");
        return 0;
      }
      self->establish(c);
    }
    return 0;
  }

  static int on_body(http_parser* p, const char* at, std::size_t n) {
    conn* c = of(p);
    load* self = c->owner;
    if (c->r == role::subscriber && self->cfg_.m != mode::poll) {
      bool ok = c->sse.feed(
          std::string_view(at, n),
          [&](courier::http::sse_event&& e) { self->deliver(c, e.data); });
      if (!ok) {
        self->fail(c, "SSE line too long");
      }
      return 0;
    }
    c->body.append(at, n);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    conn* c = of(p);
    load* self = c->owner;
    switch (c->r) {
      case role::subscriber:
        if (self->cfg_.m == mode::poll) {
          self->poll_answered(c);
        } else {
          self->fail(c, "the stream ended");
        }
        break;
      case role::publisher:
        self->published(c);
        break;
      case role::probe:
        self->probe_answered(c);
        break;
    }
    return 0;
  }

  // --- the end ------------------------------------------------------------

  void idle_measure() {
    if (cfg_.pid != 0) {
      rss_after_ = rss_kb(cfg_.pid);
    }
    double left = cfg_.hold - 1;
    uv_timer_start(
        &phase_,
        [](uv_timer_t* t) { static_cast<load*>(t->data)->finish(false); },
        static_cast<std::uint64_t>(std::max(0.0, left) * 1000), 0);
  }

  void check_done() {
    if (cfg_.m != mode::idle && complete_ + failed_ == cfg_.clients &&
        (cfg_.events == 0 || (next_k_ == cfg_.events && resend_.empty()) ||
         pub_errors_ > 0)) {
      finish(false);
    }
  }

  void finish(bool timed_out) {
    if (finished_) {
      return;
    }
    finished_ = true;
    timed_out_ = timed_out;
    if (publishing_) {
      auto [server, client] = cpu_now();
      cpu_used_ = {server - cpu_start_.first, client - cpu_start_.second};
    }
    end_ns_ = now_ns();
    for (uv_timer_t* t : {&deadline_, &phase_, &tick_}) {
      uv_timer_stop(t);
      uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    }
    uv_check_stop(&pause_);
    uv_close(reinterpret_cast<uv_handle_t*>(&pause_), nullptr);
    for (auto& c : subs_) {
      if (c->owner != nullptr) {
        close(c.get(), true);
      }
    }
    for (auto& c : extra_) {
      close(c.get(), true);
    }
  }

  // (server, client) CPU seconds so far.
  std::pair<double, double> cpu_now() const {
    return {cfg_.pid != 0 ? cpu_seconds(cfg_.pid) : 0, own_cpu_seconds()};
  }

  double percentile_ms(double q) {
    if (latencies_.empty()) {
      return 0;
    }
    auto at = static_cast<std::size_t>(
        q * static_cast<double>(latencies_.size() - 1));
    std::nth_element(latencies_.begin(),
                     latencies_.begin() + static_cast<std::ptrdiff_t>(at),
                     latencies_.end());
    return latencies_[at] / 1000.0;
  }

  void report() {
    const char* names[] = {"sse", "poll", "idle"};
    const char* m = names[static_cast<int>(cfg_.m)];
    const char* server = cfg_.server == flavor::courier ? "courier" : "nchan";
    std::string label = cfg_.label.empty() ? "" : " label=" + cfg_.label;
    if (cfg_.m == mode::idle) {
      double per = rss_after_ > rss_before_ && settled_ > failed_
                       ? static_cast<double>(rss_after_ - rss_before_) /
                             static_cast<double>(settled_ - failed_)
                       : 0;
      std::printf(
          "idle%s server=%s clients=%zu open=%zu rss_before_kb=%ld "
          "rss_after_kb=%ld kb_per_conn=%.2f conn_errors=%zu timed_out=%d\n",
          label.c_str(), server, cfg_.clients, settled_ - failed_, rss_before_,
          rss_after_, per, conn_errors_, timed_out_ ? 1 : 0);
      return;
    }
    std::uint64_t expected = cfg_.clients * cfg_.events;
    double secs =
        pub_start_ns_ != 0 && last_delivery_ns_ > pub_start_ns_
            ? static_cast<double>(last_delivery_ns_ - pub_start_ns_) / 1e9
            : 0;
    double rate = secs > 0 ? static_cast<double>(deliveries_) / secs : 0;
    double p50 = percentile_ms(0.50);
    double p99 = percentile_ms(0.99);
    double max =
        latencies_.empty()
            ? 0
            : *std::max_element(latencies_.begin(), latencies_.end()) / 1000.0;
    std::printf(
        "%s%s server=%s clients=%zu events=%zu bytes=%zu deliveries=%llu "
        "expected=%llu seconds=%.3f rate=%.0f p50_ms=%.2f p99_ms=%.2f "
        "max_ms=%.2f lost=%llu dup=%zu other=%zu conn_errors=%zu "
        "pub_errors=%zu http_errors=%zu resets=%zu requests=%zu reconnects=%zu "
        "server_cpu_s=%.2f client_cpu_s=%.2f timed_out=%d\n",
        m, label.c_str(), server, cfg_.clients, cfg_.events, cfg_.bytes,
        static_cast<unsigned long long>(deliveries_),
        static_cast<unsigned long long>(expected), secs, rate, p50, p99, max,
        static_cast<unsigned long long>(expected - deliveries_), dup_, other_,
        conn_errors_, pub_errors_, http_errors_, resets_, requests_,
        reconnects_ + pub_reconnects_, cpu_used_.first, cpu_used_.second,
        timed_out_ ? 1 : 0);
  }

  config cfg_;
  uv_loop_t loop_{};
  uv_timer_t deadline_{};
  uv_timer_t phase_{};  // one step after another: settle, probe, measure
  uv_timer_t tick_{};
  uv_check_t pause_{};  // every millisecond: rate budget and retries
  http_parser_settings settings_{};
  char read_buf_[64 * 1024];
  std::vector<std::unique_ptr<conn>> subs_;
  std::vector<std::unique_ptr<conn>> extra_;
  std::vector<conn*> retry_;
  std::deque<std::size_t> pub_sent_;  // in flight, oldest first
  std::vector<std::size_t> resend_;   // to publish again, last first
  conn* pub_ = nullptr;
  std::size_t launched_ = 0;
  std::size_t settled_ = 0;  // subscribers established or failed
  std::size_t failed_ = 0;
  std::size_t complete_ = 0;
  bool ready_ = false;
  bool publishing_ = false;
  bool finished_ = false;
  bool timed_out_ = false;
  std::size_t next_k_ = 0;
  std::size_t pub_in_flight_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t ready_ns_ = 0;
  std::uint64_t pub_start_ns_ = 0;
  std::uint64_t last_delivery_ns_ = 0;
  std::uint64_t end_ns_ = 0;
  std::uint64_t deliveries_ = 0;
  std::vector<std::uint32_t> latencies_;  // microseconds
  std::size_t dup_ = 0;
  std::size_t other_ = 0;
  std::size_t conn_errors_ = 0;
  std::size_t pub_errors_ = 0;
  std::size_t pub_reconnects_ = 0;
  std::size_t http_errors_ = 0;
  std::size_t resets_ = 0;
  std::size_t requests_ = 0;
  std::size_t reconnects_ = 0;
  std::pair<double, double> cpu_start_{};
  std::pair<double, double> cpu_used_{};
  long rss_before_ = 0;
  long rss_after_ = 0;
};

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: courier_push_load sse|poll|idle --sub URL [--pub URL] [options]\n"
      "  --server courier|nchan  protocol details (default courier)\n"
      "  -c, --clients N        subscribers (default 100)\n"
      "  -n, --events N         events to publish (default 100)\n"
      "  -b, --bytes N          payload size (default 100)\n"
      "  --window N             publishes in flight, pipelined (default 32)\n"
      "  --rate N               events/s at most (default: no limit)\n"
      "  --token T              publish with 'Authorization: Bearer T'\n"
      "  --content-type T       of the published body (default "
      "application/json)\n"
      "  --deadline S           give up after S seconds (default 60)\n"
      "  --settle S             pause between ready and publishing "
      "(default 0.2)\n"
      "  --batch-us N           pause N us per loop turn so that reads "
      "batch up\n"
      "                         (default 0)\n"
      "  --poll-timeout S       courier long polling: timeout=S (default 30)\n"
      "  --connect-window N     connections being opened at once (default "
      "512)\n"
      "  --hold S               idle: hold the connections S seconds "
      "(default 5)\n"
      "  --idle S               the idle mode, holding S seconds\n"
      "  --pid PID              the server process: its CPU time while "
      "publishing;\n"
      "                         idle: its VmRSS before and 1 s after all "
      "are open\n"
      "  --label L              added to the result line\n");
}

config parse(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    std::exit(2);
  }
  config c;
  std::string_view m = argv[1];
  if (m == "--help" || m == "-h") {
    usage(stdout);
    std::exit(0);
  }
  if (m == "sse") {
    c.m = mode::sse;
  } else if (m == "poll") {
    c.m = mode::poll;
  } else if (m == "idle") {
    c.m = mode::idle;
  } else {
    die("the mode is sse, poll or idle");
  }
  bool has_sub = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) {
      die("missing value after " + std::string(a));
    }
    const char* v = argv[++i];
    auto count = [&] {
      return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
    };
    if (a == "--sub") {
      c.sub = parse_url(v);
      has_sub = true;
    } else if (a == "--pub") {
      c.pub = parse_url(v);
      c.has_pub = true;
    } else if (a == "--server") {
      c.server =
          std::string_view(v) == "nchan" ? flavor::nchan : flavor::courier;
    } else if (a == "-c" || a == "--clients") {
      c.clients = count();
    } else if (a == "-n" || a == "--events") {
      c.events = count();
    } else if (a == "-b" || a == "--bytes") {
      c.bytes = count();
    } else if (a == "--window") {
      c.window = std::max<std::size_t>(1, count());
    } else if (a == "--rate") {
      c.rate = std::atof(v);
    } else if (a == "--token") {
      c.token = v;
    } else if (a == "--content-type") {
      c.content_type = v;
    } else if (a == "--deadline") {
      c.deadline = std::atof(v);
    } else if (a == "--settle") {
      c.settle = std::atof(v);
    } else if (a == "--batch-us") {
      c.batch_us = std::atol(v);
    } else if (a == "--poll-timeout") {
      c.poll_timeout = std::atoi(v);
    } else if (a == "--connect-window") {
      c.connect_window = std::max<std::size_t>(1, count());
    } else if (a == "--hold") {
      c.hold = std::atof(v);
    } else if (a == "--idle") {
      c.m = mode::idle;  // `sse --idle S` is `idle --hold S`
      c.hold = std::atof(v);
    } else if (a == "--pid" || a == "--rss-pid") {
      c.pid = std::atol(v);
    } else if (a == "--label") {
      c.label = v;
    } else {
      die("unknown option " + std::string(a));
    }
  }
  if (!has_sub) {
    die("--sub URL is required");
  }
  if (c.m != mode::idle && !c.has_pub) {
    die("--pub URL is required for sse and poll");
  }
  if (c.m == mode::idle) {
    c.deadline = std::max(c.deadline, c.hold + 30);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg = parse(argc, argv);
  auto l = std::make_unique<load>(std::move(cfg));
  return l->run();
}
