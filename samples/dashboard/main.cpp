// dashboard: the flagship sample, one service that mixes courier's
// patterns: REST over actors (ask), pub/sub fan-out, timers, a poller with
// jitter and backoff, async jobs on a worker pool with a webhook, and push
// to a browser page over Server-Sent Events and long polling.
//
//   dashboard [--port N] [--port-file PATH] [--simulate N] [--run-for S]
//             [--token T] [--allow-private-callbacks]
//   then open http://127.0.0.1:8080/   (Ctrl-C to stop)
//
// orders.hpp has the orders actor, reports.hpp the async jobs,
// inventory.hpp the warehouse and the poller's sink, supervisor.hpp the
// restarts of a failed poller, page.hpp the page; this file has the
// subscribers, the simulator and the HTTP edge that ties them together.

#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/http_client.hpp"
#include "courier/json.hpp"
#include "courier/push.hpp"

#include "inventory.hpp"
#include "orders.hpp"
#include "page.hpp"
#include "reports.hpp"
#include "supervisor.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace http = courier::http;
using namespace std::chrono_literals;
using namespace dashboard;

namespace {

// --- Two subscribers of "orders.>" (pattern: pub/sub fan-out). Neither
// knows the orders actor; each gets every event, in order.

struct get_outbox {};

// Writes the customer an email for each created and each shipped order.
class email : public courier::actor {
 public:
  explicit email(courier::router r) : router_(std::move(r)) {}

 protected:
  void on_start() override { router_.subscribe<json>("orders.>", self()); }
  courier::behavior behavior() override {
    return {
        [this](const courier::event<json>& e) {
          auto o = e.payload().get<order>();
          std::string id = std::to_string(o.id);
          recent_.push_back(
              {{"to", "customer-" + id + "@example.com"},
               {"subject",
                "Your order " + id + " (" + std::to_string(o.quantity) + " x " +
                    o.item + ") " +
                    (o.status == "shipped" ? "has shipped" : "is confirmed")}});
          if (recent_.size() > 5) {
            recent_.erase(recent_.begin());
          }
          ++sent_;
        },
        [this](get_outbox) {
          return json{{"sent", sent_}, {"recent", recent_}};
        },
    };
  }

 private:
  courier::router router_;
  json recent_ = json::array();
  long sent_ = 0;
};

struct get_analytics {};

// Counts orders per item, shipped orders, and orders per second over the
// last minute (one bucket per second, by publish time).
class analytics : public courier::actor {
 public:
  explicit analytics(courier::router r) : router_(std::move(r)) {}

 protected:
  void on_start() override { router_.subscribe<json>("orders.>", self()); }
  courier::behavior behavior() override {
    return {
        [this](const courier::event<json>& e) {
          auto o = e.payload().get<order>();
          if (e.subject() == "orders.shipped") {
            ++shipped_;
            return;
          }
          ++orders_;
          items_[o.item].orders += 1;
          items_[o.item].quantity += o.quantity;
          long s = seconds(e.time());
          advance_to(s);
          ++per_second_[static_cast<std::size_t>(s % 60)];
        },
        [this](get_analytics) {
          long now = seconds(std::chrono::system_clock::now());
          advance_to(now);
          json last_minute = json::array();  // oldest first
          long last_ten = 0;                 // the 10 seconds before this one
          for (long s = now - 59; s <= now; ++s) {
            long n = per_second_[static_cast<std::size_t>(s % 60)];
            last_minute.push_back(n);
            last_ten += s >= now - 10 && s < now ? n : 0;
          }
          return json{{"orders", orders_},
                      {"shipped", shipped_},
                      {"items", items_},
                      {"orders_per_second", static_cast<double>(last_ten) / 10},
                      {"last_minute", last_minute}};
        },
    };
  }

 private:
  static long seconds(std::chrono::system_clock::time_point t) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
            .count());
  }
  // Clears the buckets of the seconds that passed without an order.
  void advance_to(long now) {
    for (long s = std::max(last_second_ + 1, now - 59); s <= now; ++s) {
      per_second_[static_cast<std::size_t>(s % 60)] = 0;
    }
    last_second_ = std::max(last_second_, now);
  }

  courier::router router_;
  long orders_ = 0;
  long shipped_ = 0;
  std::map<std::string, tally> items_;
  std::array<long, 60> per_second_{};
  long last_second_ = 0;
};

// --- The simulator (pattern: timers): N random orders per second, through
// the orders actor like any other client.

struct simulate_tick {};

class simulator : public courier::actor {
 public:
  simulator(courier::actor_ref orders, long per_second)
      : orders_(orders), per_second_(per_second) {}

 protected:
  void on_start() override {
    every(std::chrono::milliseconds(std::max(1L, 1000 / per_second_)),
          simulate_tick{});
  }
  courier::behavior behavior() override {
    return {[this](simulate_tick) {
      orders_.tell(create_order{items[rng_() % items.size()],
                                static_cast<int>(1 + rng_() % 5)});
    }};
  }

 private:
  courier::actor_ref orders_;
  long per_second_;
  std::minstd_rand rng_{std::random_device{}()};
};

// --run-for: asks the system to shut down after a while.
class stop_after : public courier::actor {
 public:
  stop_after(courier::system& sys, std::chrono::milliseconds delay)
      : sys_(sys), delay_(delay) {}

 protected:
  void on_start() override {
    after(delay_, [this] { sys_.request_shutdown(); });
  }
  courier::behavior behavior() override { return {}; }

 private:
  courier::system& sys_;
  std::chrono::milliseconds delay_;
};

// --- The HTTP edge: routes that ask the actors above.

// "123" -> 123; anything else -> 0, which no order or job has.
int to_id(std::string_view s) {
  if (s.empty() || s.size() > 9 ||
      s.find_first_not_of("0123456789") != std::string_view::npos) {
    return 0;
  }
  return std::stoi(std::string(s));
}

// 200 with the reply, or 404 when the actor has no such thing.
template <class T>
auto found_or_404(std::string what) {
  return [what](std::optional<T> found) {
    return found ? http::response::json(200, *found)
                 : http::response::error(404, "no such " + what);
  };
}

auto fail_with(http::responder out) {
  return [out](const courier::ask_error& e) {
    out.send(http::error_response(e, false));
  };
}

void add_routes(http::routes& r, courier::actor_ref orders_ref,
                courier::actor_ref email_ref, courier::actor_ref analytics_ref,
                courier::actor_ref warehouse_ref,
                courier::actor_ref reports_ref) {
  r.get("/", [](const http::request&) {
    return http::response::text(200, std::string(dashboard_page),
                                "text/html; charset=utf-8");
  });
  r.get("/orders",
        http::ask_route<std::vector<order>>(
            orders_ref, [](const http::request&) { return list_orders{}; }));
  r.get("/orders/{id}", http::ask_route<std::optional<order>>(
                            orders_ref,
                            [](const http::request& q) {
                              return get_order{to_id(q.param("id"))};
                            },
                            found_or_404<order>("order")));
  r.post("/orders", [orders_ref](http::request& req, http::responder out) {
    json body = courier::parse_json(req.body);
    if (auto why = order_error(body)) {
      out.send(http::response::error(400, *why));
      return;
    }
    http::ask<order>(orders_ref, create_order{body["item"].get<std::string>(),
                                              body["quantity"].get<int>()})
        .then(
            [out](const order& created) {
              auto res = http::response::json(201, created);
              res.headers.set("Location",
                              "/orders/" + std::to_string(created.id));
              out.send(std::move(res));
            },
            fail_with(out));
  });
  r.get("/analytics",
        http::ask_route<json>(analytics_ref, [](const http::request&) {
          return get_analytics{};
        }));
  r.get("/emails", http::ask_route<json>(email_ref, [](const http::request&) {
          return get_outbox{};
        }));
  r.get("/inventory",
        http::ask_route<stock_levels>(
            warehouse_ref, [](const http::request&) { return get_stock{}; }));
  r.post("/reports", [reports_ref](http::request& req, http::responder out) {
    json body =
        req.body.empty() ? json::object() : courier::parse_json(req.body);
    if (auto why = report_error(body)) {
      out.send(http::response::error(400, *why));
      return;
    }
    http::ask<job_ticket>(
        reports_ref,
        submit_report{body.value("kind", "sales"), body.value("callback", "")})
        .then(
            [out](const job_ticket& t) {
              auto res = http::response::json(
                  202, {{"job", t.job}, {"since", t.since}});
              res.headers.set("Location", "/reports/" + std::to_string(t.job));
              out.send(std::move(res));
            },
            fail_with(out));
  });
  r.get("/reports/{id}", http::ask_route<std::optional<json>>(
                             reports_ref,
                             [](const http::request& q) {
                               return get_job{to_id(q.param("id"))};
                             },
                             found_or_404<json>("report")));
}

// /admin/...: only with a token, and then only with it (401 otherwise).
// Without one they do not exist (404), as nginx serves no status page
// that nobody configured.
void add_admin_routes(http::routes& r, http::push push,
                      const std::string& token) {
  if (token.empty()) {
    return;
  }
  // The browser test cuts every SSE stream; the page resumes by itself.
  r.post("/admin/drop-streams", [push](const http::request&) {
    push.drop_streams();
    return http::response::json(202, {{"dropped", true}});
  });
  r.protect("/admin/", token);
}

struct options {
  std::uint16_t port = 8080;
  std::string port_file;
  long simulate = 2;  // orders per second; 0: off
  long run_for = 0;   // seconds; 0: until Ctrl-C
  std::string token;  // of /admin/...; empty: no admin routes
  // Webhooks may call loopback, private and link-local addresses.
  bool allow_private_callbacks = false;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 < argc && a == "--port") {
      o.port = static_cast<std::uint16_t>(std::strtol(argv[++i], nullptr, 10));
    } else if (i + 1 < argc && a == "--port-file") {
      o.port_file = argv[++i];
    } else if (i + 1 < argc && a == "--simulate") {
      o.simulate = std::max(0L, std::strtol(argv[++i], nullptr, 10));
    } else if (i + 1 < argc && a == "--run-for") {
      o.run_for = std::max(0L, std::strtol(argv[++i], nullptr, 10));
    } else if (i + 1 < argc && a == "--token") {
      o.token = argv[++i];
    } else if (a == "--allow-private-callbacks") {
      o.allow_private_callbacks = true;
    } else {
      std::fprintf(a == "--help" ? stdout : stderr,
                   "usage: dashboard [--port N] [--port-file PATH] "
                   "[--simulate ORDERS_PER_SECOND] [--run-for SECONDS]\n"
                   "                 [--token T] [--allow-private-callbacks]\n"
                   "  --token T                  /admin/... needs "
                   "'Authorization: Bearer T'\n"
                   "                             (without it there are no "
                   "admin routes)\n"
                   "  --allow-private-callbacks  report webhooks may call "
                   "loopback and private\n"
                   "                             addresses (refused by "
                   "default)\n");
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  options opt = parse(argc, argv);
  // A handler that throws stops its actor; say so instead of going quiet,
  // and let the supervisors restart what they watch.
  auto failures = std::make_shared<failure_hook>();
  courier::system sys(courier::system_config{
      .on_failure = [failures](const courier::actor_failure& f) {
        std::fprintf(stderr, "dashboard: an actor failed: %s\n",
                     f.what.c_str());
        (*failures)(f);
      }});
  sys.handle_signals();
  courier::router router = courier::router::of(sys);

  auto orders_ref = sys.spawn<orders>(router);
  auto email_ref = sys.spawn<email>(router);
  auto analytics_ref = sys.spawn<analytics>(router);
  auto warehouse_ref = sys.spawn<warehouse>(router);
  // Every 2 s, +-20 %; a failed or timed-out poll doubles the delay, up
  // to 16 s, and the first success brings it back to 2 s. A supervisor
  // restarts the poller if it fails anyway.
  auto skipped = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto inventory_counters = std::make_shared<supervision_counters>();
  auto inventory = sys.spawn<supervisor>(
      sys, failures,
      [warehouse_ref, router, skipped](courier::system& s) {
        return courier::spawn_poller<stock_levels>(
            s, courier::poll_ask<stock_levels>(warehouse_ref, get_stock{}),
            publish_stock_changes(router, skipped),
            {.interval = 2s,
             .jitter = 0.2,
             .timeout = 1s,
             .backoff_factor = 2.0,
             .backoff_cap = 16s});
      },
      supervisor_options{.name = "inventory"}, inventory_counters);
  // Callback URLs come from clients: by default the webhook may only call
  // public addresses (checked after name resolution).
  auto webhooks = http::client::start(
      sys, {.connect_timeout = 2s,
            .deny_private_addresses = !opt.allow_private_callbacks});
  auto reports_ref = sys.spawn<reports>(router, orders_ref, webhooks);
  if (opt.simulate > 0) {
    sys.spawn<simulator>(orders_ref, opt.simulate);
  }
  if (opt.run_for > 0) {
    sys.spawn<stop_after>(sys, std::chrono::seconds(opt.run_for));
  }

  // The edge: REST routes, push (SSE at /sse/{pattern}, long polling at
  // /poll/{pattern}) fed by the router, and /metrics and /healthz.
  http::server_config cfg{.port = opt.port};
  cfg.metrics_routers = {router};
  cfg.metrics_pollers = {{"inventory", inventory}};
  cfg.metrics_producers.push_back(
      [inventory_counters, skipped](courier::prometheus_writer& w) {
        supervision_metrics(w, {{"inventory", inventory_counters}});
        const char* invalid = "dashboard_inventory_invalid_subjects_total";
        w.family(invalid, courier::metric_type::counter,
                 "Stock changes not published: the item makes no valid "
                 "subject.");
        w.sample(invalid, {}, skipped->load(std::memory_order_relaxed));
      });
  http::routes routes;
  http::push push =
      http::push::mount(sys, cfg, routes, router, {.retry = 1000ms});
  add_routes(routes, orders_ref, email_ref, analytics_ref, warehouse_ref,
             reports_ref);
  add_admin_routes(routes, push, opt.token);
  http::server server = http::server::start(sys, cfg, std::move(routes));

  std::printf("dashboard at http://127.0.0.1:%u/\n", server.port());
  std::printf("admin routes: %s\n",
              opt.token.empty() ? "off (start with --token T to serve them)"
                                : "on, with 'Authorization: Bearer T'");
  std::fflush(stdout);
  if (!opt.port_file.empty()) {
    std::ofstream(opt.port_file) << server.port() << "\n";
  }
  // Ctrl-C: requests in flight finish and streams close before the
  // system stops.
  sys.wait_for_shutdown_request();
  server.stop();
  sys.shutdown();
  return 0;
}
