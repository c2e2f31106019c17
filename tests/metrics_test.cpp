// Tests of the edge's /metrics exposition end to end: escaped label values
// (label injection through a subject) and one # HELP/# TYPE per family with
// its samples together, across routers, pollers and producers.
#define BOOST_TEST_MODULE metrics
#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/prometheus_writer.hpp"

#include "support/socket_client.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace http = courier::http;
using courier::test::client;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

bool has_line(const std::string& text, std::string_view line) {
  for (const std::string& l : lines_of(text)) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

std::string metrics(std::uint16_t port) {
  client c(port);
  c.send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.read_reply();
  BOOST_REQUIRE(r.status == 200);
  return r.body;
}

// Each family's # TYPE appears once, and every sample follows the # TYPE
// of its own family (so a family's samples are contiguous).
void check_families(const std::string& text) {
  std::map<std::string, int> types;
  std::string family;
  for (const std::string& l : lines_of(text)) {
    if (l.starts_with("# TYPE ")) {
      family = l.substr(7, l.find(' ', 7) - 7);
      BOOST_TEST(++types[family] == 1, "# TYPE " << family << " repeated");
    } else if (!l.empty() && l[0] != '#') {
      std::string name = l.substr(0, l.find_first_of("{ "));
      BOOST_TEST(name.starts_with(family),
                 name << " is not under its family's # TYPE");
    }
  }
  BOOST_TEST(types.size() > 10u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_subject_cannot_inject_labels) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  r.publish("evil\",job=\"pwn", 1);
  r.publish("back\\slash", 2);
  BOOST_REQUIRE(
      courier::test::poll_until([&] { return r.stats().published == 2; }, 10s));
  http::server_config cfg;
  cfg.metrics_routers = {r};
  auto srv = http::server::start(sys, cfg, http::routes{});
  std::string text = metrics(srv.port());
  BOOST_TEST(has_line(text,
                      "courier_router_subject_published_total{router="
                      "\"default\",subject=\"evil\\\",job=\\\"pwn\"} 1"));
  BOOST_TEST(has_line(text,
                      "courier_router_subject_routed_total{router=\"default\","
                      "subject=\"back\\\\slash\"} 0"));
  BOOST_TEST(text.find("job=\"pwn\"") == std::string::npos);
  check_families(text);
}

BOOST_AUTO_TEST_CASE(families_are_declared_once_across_producers) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto a = courier::router::of(sys);
  auto b = courier::router::named(sys, "second");
  a.publish("orders.created", 1);
  b.publish("orders.created", 2);
  b.publish("orders.paid", 3);
  BOOST_REQUIRE(courier::test::poll_until(
      [&] { return a.stats().published == 1 && b.stats().published == 2; },
      10s));
  auto poller = courier::spawn_poller<int>(
      sys, [] { return 1; }, [](const int&) {}, {.interval = 5ms});
  http::server_config cfg;
  cfg.metrics_routers = {a, b};
  cfg.metrics_pollers = {{"one", poller}, {"two", poller}};
  // Two producers that add to a family the edge writes too, and one with a
  // label value holding a newline.
  for (int i = 0; i < 2; ++i) {
    cfg.metrics_producers.push_back([i](courier::prometheus_writer& w) {
      w.family("courier_router_published_total", courier::metric_type::counter,
               "Events published.");
      w.sample("courier_router_published_total",
               {{"router", "extra" + std::to_string(i)}}, 7);
      w.family("app_info", courier::metric_type::gauge, "About the app.");
      w.sample("app_info", {{"n", std::to_string(i)}, {"v", "a\nb"}}, 1);
    });
  }
  auto srv = http::server::start(sys, cfg, http::routes{});
  std::string text = metrics(srv.port());
  check_families(text);
  BOOST_TEST(has_line(text, "app_info{n=\"0\",v=\"a\\nb\"} 1"));
  BOOST_TEST(has_line(text, "app_info{n=\"1\",v=\"a\\nb\"} 1"));
  BOOST_TEST(
      has_line(text, "courier_router_published_total{router=\"extra1\"} 7"));
  BOOST_TEST(
      has_line(text, "courier_router_published_total{router=\"second\"} 2"));
  BOOST_TEST(has_line(text,
                      "courier_router_subject_published_total{router="
                      "\"second\",subject=\"orders.paid\"} 1"));
  BOOST_TEST(text.find("courier_poller_polls_total{poller=\"two\"}") !=
             std::string::npos);
  std::set<std::string> help;
  for (const std::string& l : lines_of(text)) {
    if (l.starts_with("# HELP ")) {
      BOOST_TEST(help.insert(l.substr(7, l.find(' ', 7) - 7)).second, l);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_throwing_producer_leaves_metrics_served) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  http::server_config cfg;
  cfg.on_error = [](std::string_view, std::string_view) {
  };
  cfg.metrics_producers.push_back([](courier::prometheus_writer& w) {
    w.family("bad name", courier::metric_type::gauge, "");
  });
  auto srv = http::server::start(sys, cfg, http::routes{});
  std::string text = metrics(srv.port());
  BOOST_TEST(text.find("courier_http_connections_open 1") != std::string::npos);
  BOOST_TEST(srv.stats().failures == 1u);
  check_families(text);
}
