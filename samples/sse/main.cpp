// sse: the seed's SSE server and client. A ticker actor publishes price
// updates on the router; the edge streams them as Server-Sent Events at
// /sse/{pattern}; a C++ EventSource (http::sse_reader) reads the stream.
// Halfway, the server drops every stream: the reader reconnects with
// Last-Event-ID and the server replays what it missed from the router's
// history, so it still sees every event once, in order.
//
//   sse                      the demo: 20 events, then exit
//   sse --events N --period MS
//   sse --serve [--port N]   keep serving; try
//                            curl -N http://127.0.0.1:PORT/sse/prices.%3E

#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/http_client.hpp"
#include "courier/push.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace http = courier::http;

namespace {

using namespace std::chrono_literals;

struct tick {};

// Publishes a price for one of three symbols each period.
class ticker : public courier::actor {
 public:
  ticker(courier::router r, std::chrono::milliseconds period)
      : router_(std::move(r)), period_(period) {}

 protected:
  courier::behavior behavior() override {
    return {[this](tick) {
      static const char* symbols[] = {"ACME", "GLOBEX", "INITECH"};
      const char* sym = symbols[n_ % 3];
      double price = 100.0 + static_cast<double>((n_ * 37) % 23) / 4.0;
      router_.publish(
          std::string("prices.") + sym,
          nlohmann::json{{"symbol", sym}, {"price", price}, {"n", n_}});
      ++n_;
    }};
  }
  void on_start() override { every(period_, tick{}); }

 private:
  courier::router router_;
  std::chrono::milliseconds period_;
  int n_ = 0;
};

// The client side: prints each event and checks that sequence numbers
// follow one another across the reconnect.
class reader : public courier::actor {
 public:
  reader(courier::system& sys, long want, http::push push)
      : sys_(sys), want_(want), push_(std::move(push)) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const http::sse_event& e) {
          std::string epoch;
          std::uint64_t seq = 0;
          http::parse_event_id(e.id, epoch, seq);
          if (last_ != 0 && seq != last_ + 1) {
            ++gaps_;
          }
          last_ = seq;
          last_id_ = e.id;
          ++got_;
          std::printf("event %-16s id %-14s %s\n", e.type.c_str(), e.id.c_str(),
                      e.data.c_str());
          std::fflush(stdout);
          if (got_ == want_ / 2) {
            std::printf("-- the server drops every stream --\n");
            push_.drop_streams();
          }
          if (got_ == want_) {
            std::printf("received %ld events, %ld gaps, %d reconnects\n", got_,
                        gaps_, reconnects_);
            std::fflush(stdout);
            sys_.request_shutdown();
          }
        },
        [this](const http::sse_status& s) {
          if (s.state == http::sse_status::reconnecting) {
            ++reconnects_;
            std::printf("-- reconnecting (%s) --\n", s.message.c_str());
          } else if (s.state == http::sse_status::open && reconnects_ > 0) {
            std::printf("-- reconnected with Last-Event-ID %s --\n",
                        last_id_.c_str());
          }
          std::fflush(stdout);
        },
    };
  }

 private:
  courier::system& sys_;
  long want_;
  http::push push_;
  long got_ = 0;
  long gaps_ = 0;
  std::uint64_t last_ = 0;
  std::string last_id_;
  int reconnects_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  long events = 20;
  long period_ms = 50;
  bool serve = false;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--events" && i + 1 < argc) {
      events = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--period" && i + 1 < argc) {
      period_ms = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--serve") {
      serve = true;
    } else if (a == "--port" && i + 1 < argc) {
      port = static_cast<int>(std::strtol(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr,
                   "usage: sse [--events N] [--period MS] [--serve] "
                   "[--port N]\n");
      return 2;
    }
  }
  courier::system sys;
  sys.handle_signals();
  courier::router prices = courier::router::of(sys);

  http::server_config cfg;
  cfg.port = static_cast<std::uint16_t>(port);
  cfg.metrics_routers = {prices};
  http::routes routes;
  http::push_config pcfg;
  pcfg.retry = 200ms;  // reconnect fast after the drop
  http::push push = http::push::mount(sys, cfg, routes, prices, pcfg);
  http::server server = http::server::start(sys, cfg, std::move(routes));
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  std::printf("streaming at %s/sse/prices.>\n", base.c_str());
  std::fflush(stdout);

  sys.spawn<ticker>(prices, std::chrono::milliseconds(period_ms));
  if (serve) {
    std::printf("try: curl -N %s/sse/prices.%%3E   (Ctrl-C to stop)\n",
                base.c_str());
    std::fflush(stdout);
  } else {
    courier::actor_ref r = sys.spawn<reader>(sys, events, push);
    http::sse_reader::start(sys,
                            {.url = base + "/sse/prices.%3E", .target = r});
  }
  // Ctrl-C: requests in flight finish and streams close before the
  // system stops.
  sys.wait_for_shutdown_request();
  server.stop();
  sys.shutdown();
  return 0;
}
