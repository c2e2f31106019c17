// Fuzzes the HTTP edge end to end: one courier system and server (plain,
// ask and throwing routes, a protected prefix, CORS, the push mount with
// publishing, /healthz and /metrics) start once; each input goes over a
// fresh loopback connection, which is then half-closed and read until the
// server closes it. The input is cut at every "@@SPLIT@@" into separate
// writes, so that the parser meets requests in pieces.
//
// A reply that is neither finished nor closed within hang_deadline is a
// hang (the harness aborts), except an SSE stream, which is cut once it
// has been quiet for stream_quiet. COURIER_FUZZ_VERBOSE=1 prints what the
// server answered (to check the seeds); COURIER_FUZZ_SETTLE_MS=N waits N
// ms after each input, so that the server's timers (heartbeats every
// second, lingering subscriptions) run before the process exits: replay a
// reproducer of a crash that happened later than its input this way.
//
// The half-close is an EOF that the server may take as the client giving
// up on a request it has not answered yet (an SSE stream that resumes,
// a long poll): end the input with "@@SPLIT@@" to wait a little first.

#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/json.hpp"
#include "courier/push.hpp"

#include "dashboard_bodies.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace http = courier::http;
using json = nlohmann::json;

constexpr std::string_view split_mark = "@@SPLIT@@";
constexpr auto hang_deadline = 5s;
constexpr auto stream_quiet = 50ms;

struct get_order {
  int id = 0;
};

class orders_actor : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {
        [this](const dashboard::create_order& c) {
          dashboard::order o{next_id_++, c.item, c.quantity, "created"};
          if (last_.size() < 64) {
            last_.push_back(o);
          }
          return o;
        },
        [this](get_order g) -> std::optional<dashboard::order> {
          for (const dashboard::order& o : last_) {
            if (o.id == g.id) {
              return o;
            }
          }
          return std::nullopt;
        },
    };
  }

 private:
  std::vector<dashboard::order> last_;
  int next_id_ = 1;
};

int to_id(std::string_view s) {
  if (s.empty() || s.size() > 9 ||
      s.find_first_not_of("0123456789") != std::string_view::npos) {
    return 0;
  }
  return std::stoi(std::string(s));
}

http::routes make_routes(courier::actor_ref orders) {
  http::routes r;
  r.get("/hello", [](const http::request&) {
    return http::response::text(200, "hello");
  });
  r.get("/echo", [](const http::request& q) {
    json j{{"path", q.path}, {"target", q.target}};
    for (const auto& [k, v] : q.query) {
      j["query"].push_back({k, v});
    }
    return http::response::json(200, j);
  });
  r.get("/files/{rest*}", [](const http::request& q) {
    return http::response::text(200, std::string(q.param("rest")));
  });
  r.put("/body", [](const http::request& q) {
    return http::response::text(200, std::to_string(q.body.size()));
  });
  r.get("/throws", [](const http::request&) -> http::response {
    throw std::runtime_error("handler bug");
  });
  auto find = [](const http::request& q) {
    return get_order{to_id(q.param("id"))};
  };
  auto found = [](std::optional<dashboard::order> o) {
    return o ? http::response::json(200, *o)
             : http::response::error(404, "no such order");
  };
  r.get("/orders/{id}", http::ask_route<std::optional<dashboard::order>>(
                            orders, find, found, 1000ms));
  // The dashboard's POST /orders: a JSON body checked, then an ask.
  r.post("/orders", [orders](http::request& req, http::responder out) {
    json body = courier::parse_json(req.body);
    if (auto why = courier::fuzz::order_error(body)) {
      out.send(http::response::error(400, *why));
      return;
    }
    http::ask<dashboard::order>(orders, courier::fuzz::to_create_order(body),
                                1000ms)
        .then(
            [out](const dashboard::order& created) {
              out.send(http::response::json(201, created));
            },
            [out](const courier::ask_error& e) {
              out.send(http::error_response(e, false));
            });
  });
  r.post("/admin/reset", [](const http::request&) {
    return http::response::text(200, "reset");
  });
  r.protect("/admin", "s3cret");
  return r;
}

// The server under test, started once; stopped at exit, before the
// statics it uses are destroyed.
struct edge {
  edge() : sys(courier::system_config{.loops = 2, .spin = 0us}) {
    courier::router_config rc;
    rc.history = {.max_events = 1000, .max_bytes = 4 << 20};
    rc.loop = 1;
    rt = courier::router::named(sys, "fuzz", rc);
    auto orders = sys.spawn<orders_actor>();
    http::server_config cfg;
    cfg.loop = 0;
    cfg.max_body_bytes = 64 * 1024;
    cfg.header_timeout = 2000ms;
    cfg.body_timeout = 2000ms;
    cfg.idle_timeout = 2000ms;
    cfg.shutdown_grace = 200ms;
    cfg.cors_origins = {"http://app.example"};
    cfg.metrics_routers = {rt};
    http::routes r = make_routes(orders);
    http::push_config pc;
    pc.publish = true;
    pc.heartbeat = 1000ms;
    pc.linger = 200ms;
    pc.recent_events = 64;
    pc.max_poll_timeout = 2000ms;
    pc.poll_timeout = 1000ms;
    pc.router_timeout = 1000ms;
    push = http::push::mount(sys, cfg, r, rt, std::move(pc));
    srv = http::server::start(sys, cfg, std::move(r));
  }
  edge(const edge&) = delete;
  edge& operator=(const edge&) = delete;
  ~edge() { srv.stop(); }

  courier::system sys;
  courier::router rt;
  http::push push;
  http::server srv;
};

edge& the_edge() {
  static edge e;
  return e;
}

std::vector<std::string_view> pieces(std::string_view in) {
  std::vector<std::string_view> out;
  for (;;) {
    std::size_t at = in.find(split_mark);
    out.push_back(in.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    in.remove_prefix(at + split_mark.size());
  }
}

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    std::perror("fuzz_http_request: socket");
    std::abort();
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 &&
      errno != EINPROGRESS) {
    std::perror("fuzz_http_request: connect");
    std::abort();
  }
  return fd;
}

// One exchange: writes the pieces (reading meanwhile, so that a server
// that stops reading until its answers are read cannot block us), then
// half-closes and reads until EOF.
class exchange {
 public:
  explicit exchange(std::uint16_t port) : fd_(connect_to(port)) {}
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;
  ~exchange() {
    // An abortive close: no TIME_WAIT, so ports are not used up.
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd_);
  }

  /// What the server sent (its first 64 KiB).
  const std::string& received() const noexcept { return in_; }

  void run(const std::vector<std::string_view>& parts) {
    for (std::size_t i = 0; i < parts.size() && !write_failed_; ++i) {
      write_all(parts[i]);
      if (i + 1 < parts.size()) {
        // Lets the server read this piece alone, and answer it: a split
        // at the end keeps an SSE request from looking abandoned.
        wait(5ms, false);
      }
    }
    ::shutdown(fd_, SHUT_WR);
    auto end = clock_type::now() + hang_deadline;
    while (!eof_) {
      auto now = clock_type::now();
      if (streaming() && now - last_byte_ >= stream_quiet) {
        return;
      }
      if (now >= end) {
        std::fprintf(stderr,
                     "fuzz_http_request: no EOF within %lld ms; got %zu "
                     "bytes:\n%.2000s\n",
                     static_cast<long long>(hang_deadline / 1ms), in_.size(),
                     in_.c_str());
        std::abort();
      }
      wait(streaming() ? stream_quiet : 100ms, false);
    }
  }

 private:
  bool streaming() const {
    return in_.find("text/event-stream") != std::string::npos;
  }

  void write_all(std::string_view data) {
    auto end = clock_type::now() + hang_deadline;
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        write_failed_ = true;  // the server closed: fine
        return;
      }
      if (clock_type::now() >= end) {
        std::fprintf(stderr, "fuzz_http_request: the server stopped reading\n");
        std::abort();
      }
      wait(10ms, true);
    }
  }

  // Waits up to `d` for input (and for room to write when `out`); reads
  // what came.
  void wait(std::chrono::milliseconds d, bool out) {
    pollfd p{fd_, static_cast<short>(POLLIN | (out ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, static_cast<int>(d.count())) <= 0) {
      return;
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      return;
    }
    for (;;) {
      char buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        // Keep the start (the heads) for the messages above; count the rest.
        if (in_.size() < 64 * 1024) {
          in_.append(buf, static_cast<std::size_t>(n));
        }
        last_byte_ = clock_type::now();
        continue;
      }
      if (n == 0 ||
          (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        eof_ = true;
      }
      return;
    }
  }

  int fd_;
  std::string in_;
  clock_type::time_point last_byte_ = clock_type::now();
  bool eof_ = false;
  bool write_failed_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::signal(SIGPIPE, SIG_IGN);
  the_edge();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  exchange x(the_edge().srv.port());
  x.run(pieces(in));
  static const bool verbose = std::getenv("COURIER_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "--- sent %zu bytes, received:\n%s\n", size,
                 x.received().c_str());
  }
  static const char* settle = std::getenv("COURIER_FUZZ_SETTLE_MS");
  if (settle != nullptr) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(settle)));
  }
  return 0;
}
