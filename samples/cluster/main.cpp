// cluster: the dashboard's order events shared by two processes through
// NATS. The "orders" process takes orders (POST /orders, and a simulator)
// and publishes them on its router; its NATS bridge exports orders.>.
// The "dashboard" process imports orders.> into its own router and serves
// them over SSE and long polling, like local events.
//
//   nats-server -a 127.0.0.1 -p 4222 &
//   cluster --role orders    --nats nats://127.0.0.1:4222 --port 8081
//   cluster --role dashboard --nats nats://127.0.0.1:4222 --port 8082
//   curl -N http://127.0.0.1:8082/sse/orders.%3E
//   curl -d '{"item":"widget","quantity":3}' http://127.0.0.1:8081/orders

#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/json.hpp"
#include "courier/nats.hpp"
#include "courier/push.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace http = courier::http;

namespace {

struct make_order {
  std::string item;
  int quantity = 0;
};
struct tick {};

// Numbers the orders and publishes each on the router (orders.created).
class orders : public courier::actor {
 public:
  orders(courier::router r, int simulate_per_second)
      : router_(std::move(r)), rate_(simulate_per_second) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const make_order& m) {
          nlohmann::json o = {{"id", next_++},
                              {"item", m.item},
                              {"quantity", m.quantity},
                              {"status", "created"}};
          router_.publish("orders.created", o);
          return o;
        },
        [this](tick) {
          static const char* items[] = {"widget", "gadget", "gizmo"};
          self().tell(make_order{items[next_ % 3], 1 + next_ % 5});
        },
    };
  }
  void on_start() override {
    if (rate_ > 0) {
      every(std::chrono::milliseconds(1000 / rate_), tick{});
    }
  }

 private:
  courier::router router_;
  int rate_;
  int next_ = 1;
};

}  // namespace

int main(int argc, char** argv) {
  std::string role;
  std::string url = "nats://127.0.0.1:4222";
  int port = 0;
  int simulate = 0;
  std::string port_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--role") {
      role = argv[i + 1];
    } else if (a == "--nats") {
      url = argv[i + 1];
    } else if (a == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (a == "--simulate") {
      simulate = std::atoi(argv[i + 1]);
    } else if (a == "--port-file") {
      port_file = argv[i + 1];
    }
  }
  if (role != "orders" && role != "dashboard") {
    std::fprintf(stderr,
                 "usage: cluster --role orders|dashboard [--nats URL] "
                 "[--port N] [--port-file PATH] [--simulate N]\n");
    return 2;
  }
  courier::system sys;
  sys.handle_signals();
  courier::router router = courier::router::of(sys);

  // The bridge: the orders process exports its order events, the
  // dashboard process imports them.
  courier::nats::bridge_config ncfg;
  ncfg.urls = {url};
  if (role == "orders") {
    ncfg.exports = {"orders.>"};
  } else {
    ncfg.imports = {"orders.>"};
  }
  auto bridge = courier::nats::bridge::start(sys, router, ncfg);

  http::server_config cfg;
  cfg.port = static_cast<std::uint16_t>(port);
  cfg.metrics_routers = {router};
  cfg.metrics_producers.push_back(
      [bridge](courier::prometheus_writer& w) { bridge.metrics(w); });
  http::routes routes;
  if (role == "orders") {
    auto o = sys.spawn<orders>(router, simulate);
    routes.post("/orders",
                http::ask_route<nlohmann::json>(o, [](const http::request& q) {
                  auto j = courier::parse_json(q.body);
                  make_order m;
                  if (j.is_object()) {
                    m.item = j.value("item", "widget");
                    m.quantity = j.value("quantity", 1);
                  }
                  return m;
                }));
  } else {
    http::push::mount(sys, cfg, routes, router);
  }
  http::server server = http::server::start(sys, cfg, std::move(routes));
  if (!port_file.empty()) {
    std::ofstream(port_file) << server.port() << "\n";
  }
  std::printf("%s at http://127.0.0.1:%u/ (NATS %s)\n", role.c_str(),
              static_cast<unsigned>(server.port()), url.c_str());
  std::fflush(stdout);

  sys.wait_for_shutdown_request();
  server.stop();
  bridge.stop();
  sys.shutdown();
  return 0;
}
