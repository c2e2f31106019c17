// hub: a standalone push server, the job of nchan or a Mercure hub. Clients
// follow subjects over Server-Sent Events or long polling; publishers POST
// events with a bearer token (without one only on a loopback address);
// history makes both resumable.
//
//   hub [--listen 127.0.0.1:8080] [--history N] [--publish] [--token T] ...
//   curl -N localhost:8080/sse/news        curl localhost:8080/poll/news
//   curl -d '{"hello":1}' -H 'Content-Type: application/json'
//        localhost:8080/publish/news       (one command)

#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/push.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>

namespace http = courier::http;

namespace {

struct options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t history = 100000;
  bool publish = false;
  std::string token;
  std::size_t max_streams = 10000;
  std::size_t max_waiters = 10000;
  long heartbeat_ms = 15000;
  std::size_t stream_buffer = 1024 * 1024;
  std::size_t max_connections = 10000;
  std::size_t loops = 1;
  double run_for = 0;  // seconds; 0: until SIGINT or SIGTERM
};

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: hub [options]\n"
      "  --listen HOST:PORT     address to listen on (default "
      "127.0.0.1:8080; port 0: any free port)\n"
      "  --history N            events the router keeps for resuming "
      "(default 100000)\n"
      "  --publish              serve POST /publish/{subject}\n"
      "  --token T              publishing needs 'Authorization: Bearer T'\n"
      "                         (required unless HOST is a loopback "
      "address)\n"
      "  --max-streams N        open SSE streams at most (default 10000)\n"
      "  --max-waiters N        held long polls at most (default 10000)\n"
      "  --heartbeat-ms N       SSE heartbeat after N ms of silence "
      "(default 15000)\n"
      "  --stream-buffer N      bytes queued per SSE client before it counts "
      "as slow (default 1048576)\n"
      "  --max-connections N    open connections at most (default 10000)\n"
      "  --loops N              loops (threads) of the system (default 1)\n"
      "  --run-for SECONDS      stop after this long (default: on SIGINT or "
      "SIGTERM)\n"
      "  --help                 this text\n");
}

[[noreturn]] void bad_usage(const std::string& why) {
  std::fprintf(stderr, "hub: %s\n", why.c_str());
  usage(stderr);
  std::exit(2);
}

std::size_t to_count(std::string_view flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || *text == '-') {
    bad_usage(std::string(flag) + " needs a non-negative integer");
  }
  return static_cast<std::size_t>(v);
}

// 127.0.0.0/8 or ::1 (a numeric address, as --listen takes).
bool is_loopback(const std::string& address) {
  unsigned char b[16];
  if (inet_pton(AF_INET, address.c_str(), b) == 1) {
    return b[0] == 127;
  }
  static constexpr unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0, 0, 0, 1};
  return inet_pton(AF_INET6, address.c_str(), b) == 1 &&
         std::memcmp(b, one, sizeof one) == 0;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (a == "--publish") {
      o.publish = true;
      continue;
    }
    if (i + 1 >= argc) {
      bad_usage("missing value after " + std::string(a));
    }
    const char* v = argv[++i];
    if (a == "--listen") {
      std::string_view hp = v;
      std::size_t colon = hp.rfind(':');
      if (colon == std::string_view::npos || colon == 0) {
        bad_usage("--listen needs HOST:PORT");
      }
      o.address.assign(hp.substr(0, colon));
      std::size_t port = to_count("--listen", v + colon + 1);
      if (port > 65535) {
        bad_usage("--listen: port out of range");
      }
      o.port = static_cast<std::uint16_t>(port);
    } else if (a == "--history") {
      o.history = to_count(a, v);
    } else if (a == "--token") {
      o.token = v;
    } else if (a == "--max-streams") {
      o.max_streams = to_count(a, v);
    } else if (a == "--max-waiters") {
      o.max_waiters = to_count(a, v);
    } else if (a == "--heartbeat-ms") {
      o.heartbeat_ms = static_cast<long>(to_count(a, v));
    } else if (a == "--stream-buffer") {
      o.stream_buffer = to_count(a, v);
    } else if (a == "--max-connections") {
      o.max_connections = to_count(a, v);
    } else if (a == "--loops") {
      o.loops = to_count(a, v);
    } else if (a == "--run-for") {
      o.run_for = std::atof(v);
    } else {
      bad_usage("unknown option " + std::string(a));
    }
  }
  if (!o.token.empty() && !o.publish) {
    bad_usage("--token needs --publish");
  }
  // Anyone who reaches the port could publish: off loopback, a token.
  if (o.publish && o.token.empty() && !is_loopback(o.address)) {
    bad_usage("--publish on " + o.address +
              " needs --token (only a loopback address may go without)");
  }
  return o;
}

// Waits for SIGINT or SIGTERM, or until `run_for` seconds have passed.
// The signals are blocked in every thread (the system's loops inherit the
// mask), so this is the only place they arrive.
void wait_for_stop(const sigset_t& stop, double run_for) {
  if (run_for <= 0) {
    int sig = 0;
    sigwait(&stop, &sig);
    return;
  }
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(run_for);
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      return;
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
    timespec ts{static_cast<std::time_t>(ns.count() / 1000000000),
                static_cast<long>(ns.count() % 1000000000)};
    if (sigtimedwait(&stop, nullptr, &ts) >= 0 || errno != EINTR) {
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  try {
    courier::system sys({.loops = o.loops});
    courier::router_config rcfg;
    rcfg.history.max_events = o.history;
    auto router = courier::router::named(sys, "hub", rcfg);

    http::server_config scfg;
    scfg.address = o.address;
    scfg.port = o.port;
    scfg.max_connections = o.max_connections;
    scfg.metrics_routers = {router};

    http::push_config pcfg;
    pcfg.publish = o.publish;
    pcfg.publish_token = o.token;
    pcfg.max_streams = o.max_streams;
    pcfg.max_waiters = o.max_waiters;
    pcfg.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
    pcfg.max_stream_buffer = o.stream_buffer;

    http::routes routes;
    http::push::mount(sys, scfg, routes, router, pcfg);
    auto srv = http::server::start(sys, scfg, std::move(routes));
    std::printf("listening on http://%s:%u\n", o.address.c_str(),
                static_cast<unsigned>(srv.port()));
    std::printf("  SSE:      GET  /sse/{subject or pattern}[?since=ID]\n");
    std::printf("  polling:  GET  /poll/{pattern}?since=ID&timeout=S\n");
    if (o.publish) {
      std::printf("  publish:  POST /publish/{subject}%s\n",
                  o.token.empty() ? "  (no token: open to local clients)"
                                  : "  (Authorization: Bearer ...)");
    }
    std::fflush(stdout);

    wait_for_stop(stop, o.run_for);
    srv.stop();
    sys.shutdown();
    std::printf("stopped\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hub: %s\n", e.what());
    return 1;
  }
  return 0;
}
