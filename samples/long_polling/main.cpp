// long_polling: the seed's updates handler and its client. A jobs actor
// publishes status updates on the router; GET /poll/updates.> holds each
// request until an update exists (or its timeout passes) and answers
// {"events": [...], "next": ID}; the client (http::long_poll_reader)
// re-polls at once with "next" as its cursor, so it misses nothing even
// when updates come while no request is open.
//
//   long_polling                 the demo: 12 updates, then exit
//   long_polling --updates N --period MS
//   long_polling --serve [--port N]   keep serving; try
//       curl 'http://127.0.0.1:PORT/poll/updates.%3E?timeout=25'

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

struct advance {};

// Three jobs move through queued -> running -> done, one step per period.
class jobs : public courier::actor {
 public:
  jobs(courier::router r, std::chrono::milliseconds period)
      : router_(std::move(r)), period_(period) {}

 protected:
  courier::behavior behavior() override {
    return {[this](advance) {
      static const char* states[] = {"queued", "running", "done"};
      int job = 1 + (n_ / 3);
      router_.publish("updates.job" + std::to_string(job),
                      nlohmann::json{{"job", job}, {"status", states[n_ % 3]}});
      ++n_;
    }};
  }
  void on_start() override { every(period_, advance{}); }

 private:
  courier::router router_;
  std::chrono::milliseconds period_;
  int n_ = 0;
};

class printer : public courier::actor {
 public:
  printer(courier::system& sys, long want) : sys_(sys), want_(want) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const http::long_poll_event& e) {
          ++got_;
          std::printf("update %-13s id %-14s %s\n", e.subject.c_str(),
                      e.id.c_str(), e.data.dump().c_str());
          std::fflush(stdout);
          if (got_ == want_) {
            std::printf("received %ld updates\n", got_);
            std::fflush(stdout);
            sys_.request_shutdown();
          }
        },
        [](const http::long_poll_reset& r) {
          std::printf("reset: reload, then continue from %s\n", r.next.c_str());
        },
    };
  }

 private:
  courier::system& sys_;
  long want_;
  long got_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  long updates = 12;
  long period_ms = 40;
  bool serve = false;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--updates" && i + 1 < argc) {
      updates = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--period" && i + 1 < argc) {
      period_ms = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--serve") {
      serve = true;
    } else if (a == "--port" && i + 1 < argc) {
      port = static_cast<int>(std::strtol(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr,
                   "usage: long_polling [--updates N] [--period MS] "
                   "[--serve] [--port N]\n");
      return 2;
    }
  }
  courier::system sys;
  sys.handle_signals();
  courier::router updates_router = courier::router::of(sys);

  http::server_config cfg;
  cfg.port = static_cast<std::uint16_t>(port);
  http::routes routes;
  http::push::mount(sys, cfg, routes, updates_router);
  http::server server = http::server::start(sys, cfg, std::move(routes));
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  std::printf("long polling at %s/poll/updates.>\n", base.c_str());
  std::fflush(stdout);

  if (serve) {
    std::printf(
        "try: curl '%s/poll/updates.%%3E?timeout=25'   (Ctrl-C to "
        "stop)\n",
        base.c_str());
    std::fflush(stdout);
  } else {
    courier::actor_ref p = sys.spawn<printer>(sys, updates);
    // The first poll (no cursor) starts "from now"; the jobs start after
    // it, so that the demo sees every update from the first.
    http::long_poll_reader::start(sys, http::client::start(sys),
                                  {.url = base + "/poll/updates.%3E",
                                   .target = p,
                                   .since = "",
                                   .hold = std::chrono::seconds(5)});
  }
  sys.spawn<jobs>(updates_router, std::chrono::milliseconds(period_ms));
  // Ctrl-C: requests in flight finish and streams close before the
  // system stops.
  sys.wait_for_shutdown_request();
  server.stop();
  sys.shutdown();
  return 0;
}
