// Tests of the NATS bridge against a real nats-server on 127.0.0.1 (an
// ephemeral port, stopped by pid): export/import between two systems,
// wildcards and the prefix, no echo, a server restart while publishing,
// and a server missing at start.
#define BOOST_TEST_MODULE nats
#include "courier/nats.hpp"

#include "courier/courier.hpp"

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::nats::bridge;
using courier::nats::bridge_config;
using courier::nats::bridge_state;

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class nats_server {
 public:
  explicit nats_server(int port) : port_(port) { start(); }
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;
  ~nats_server() { stop(); }

  void start() {
    std::string p = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p.c_str(),
               static_cast<char*>(nullptr));
      ::execl("/usr/sbin/nats-server", "nats-server", "-a", "127.0.0.1", "-p",
              p.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (!wait_until([this] { return accepts(port_); })) {
      stop();
      throw std::runtime_error("nats-server did not start");
    }
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  std::string url() const {
    return "nats://127.0.0.1:" + std::to_string(port_);
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

struct received {
  std::string subject;
  nlohmann::json json;
  std::string text;
};

struct inbox {
  std::mutex mutex;
  std::vector<received> events;

  std::size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
  std::vector<received> copy() {
    std::lock_guard lock(mutex);
    return events;
  }
};

class collector : public courier::actor {
 public:
  explicit collector(std::shared_ptr<inbox> box) : box_(std::move(box)) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const courier::event_ref& e) {
      received r{e.subject(), {}, {}};
      if (const auto* j = e.get_if<nlohmann::json>()) {
        r.json = *j;
      } else if (const auto* s = e.get_if<std::string>()) {
        r.text = *s;
      }
      std::lock_guard lock(box_->mutex);
      box_->events.push_back(std::move(r));
    }};
  }

 private:
  std::shared_ptr<inbox> box_;
};

std::shared_ptr<inbox> listen(courier::system& sys, courier::router& r,
                              const std::string& pattern) {
  auto box = std::make_shared<inbox>();
  r.subscribe(pattern, sys.spawn<collector>(box));
  return box;
}

bool connected(const bridge& b) {
  return b.stats().state == bridge_state::connected;
}

// cnats subscribes asynchronously: a round trip through the server
// proves the subscription is in place.
void wait_ready(courier::router& a, const std::string& subject,
                const std::shared_ptr<inbox>& box) {
  BOOST_REQUIRE(wait_until([&] {
    a.publish(subject, std::string("ready"));
    return wait_until([&] { return box->size() > 0; }, 200ms);
  }));
  std::lock_guard lock(box->mutex);
  box->events.clear();
}

bridge_config config(const nats_server& s) {
  bridge_config c;
  c.urls = {s.url()};
  c.reconnect_wait = 50ms;
  c.retry_min = 20ms;
  c.retry_max = 200ms;
  return c;
}

// A nats-server and two systems, A and B, each with its router; the
// tests start the bridges they need.
struct two_sites {
  nats_server server{free_port()};
  courier::system a{{.loops = 2}};
  courier::system b{{.loops = 2}};
  courier::router ra = courier::router::of(a);
  courier::router rb = courier::router::of(b);
};

BOOST_FIXTURE_TEST_CASE(an_event_of_a_reaches_a_subscriber_of_b, two_sites) {
  auto ca = config(server);
  ca.exports = {"orders.>"};
  auto cb = config(server);
  cb.imports = {"orders.>"};
  auto ba = bridge::start(a, ra, ca);
  auto bb = bridge::start(b, rb, cb);
  auto box = listen(b, rb, "orders.>");
  BOOST_REQUIRE(wait_until([&] { return connected(ba) && connected(bb); }));
  wait_ready(ra, "orders.ready", box);

  nlohmann::json order = {{"id", 7}, {"items", {"tea", "cup"}}, {"paid", true}};
  ra.publish("orders.created", order);
  ra.publish("orders.note", std::string("plain text"));
  BOOST_REQUIRE(wait_until([&] { return box->size() == 2; }));
  auto got = box->copy();
  BOOST_TEST(got[0].subject == "orders.created");
  BOOST_TEST(got[0].json == order);
  BOOST_TEST(got[1].text == "plain text");
  BOOST_TEST(ba.stats().exported >= 3u);
  BOOST_TEST(bb.stats().imported >= 3u);
  BOOST_TEST(ba.metrics_text().find("courier_nats_exported_total") !=
             std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(wildcards_and_the_prefix_map_subjects, two_sites) {
  auto ca = config(server);
  ca.exports = {"orders.*.created", "stock.>"};
  ca.prefix = "site1.";
  auto cb = config(server);
  cb.imports = {"orders.*.created", "stock.>"};
  cb.prefix = "site1.";
  auto cc = config(server);  // no prefix: sees nothing of site1 locally
  cc.imports = {"orders.>", "stock.>"};
  auto ba = bridge::start(a, ra, ca);
  auto bb = bridge::start(b, rb, cb);
  courier::system c({.loops = 1});
  auto rc = courier::router::of(c);
  auto bc = bridge::start(c, rc, cc);
  auto box = listen(b, rb, ">");
  auto other = listen(c, rc, ">");
  BOOST_REQUIRE(wait_until(
      [&] { return connected(ba) && connected(bb) && connected(bc); }));
  wait_ready(ra, "stock.ready", box);

  ra.publish("orders.eu.created", nlohmann::json{{"id", 1}});
  ra.publish("orders.eu.shipped", nlohmann::json{{"id", 2}});  // not exported
  ra.publish("stock.tea.low", nlohmann::json{{"left", 3}});
  ra.publish("orders.us.created", nlohmann::json{{"id", 4}});
  BOOST_REQUIRE(wait_until([&] { return box->size() == 3; }));
  // Order holds within one import pattern (one NATS subscription) only.
  std::map<std::string, nlohmann::json> got;
  for (auto& r : box->copy()) {
    got[r.subject] = r.json;
  }
  BOOST_TEST(got.size() == 3u);
  BOOST_TEST(got["orders.eu.created"]["id"] == 1);
  BOOST_TEST(got["stock.tea.low"]["left"] == 3);
  BOOST_TEST(got["orders.us.created"]["id"] == 4);
  BOOST_TEST(other->size() == 0u);
}

BOOST_FIXTURE_TEST_CASE(no_echo_and_no_loop, two_sites) {
  auto ca = config(server);
  ca.exports = {"orders.>"};
  ca.imports = {"orders.>"};
  auto cb = ca;
  auto ba = bridge::start(a, ra, ca);
  auto bb = bridge::start(b, rb, cb);
  auto in_a = listen(a, ra, "orders.>");
  auto in_b = listen(b, rb, "orders.>");
  BOOST_REQUIRE(wait_until([&] { return connected(ba) && connected(bb); }));
  // Until B's subscription is in place at the server, readies reach A's
  // own subscriber only. NATS keeps one publisher's order, so once B has
  // the last one published, nothing is still on its way to B; A's
  // subscriber gets every one.
  std::size_t readies = 0;
  auto b_has_last = [&] {
    auto got = in_b->copy();
    return !got.empty() &&
           got.back().text == "ready " + std::to_string(readies);
  };
  BOOST_REQUIRE(wait_until([&] {
    ra.publish("orders.ready", "ready " + std::to_string(++readies));
    return wait_until(b_has_last, 200ms);
  }));
  BOOST_REQUIRE(wait_until([&] { return in_a->size() == readies; }));
  auto a0 = ba.stats();
  auto b0 = bb.stats();
  std::size_t in_a0 = in_a->size();
  std::size_t in_b0 = in_b->size();

  ra.publish("orders.created", nlohmann::json{{"id", 1}});
  BOOST_REQUIRE(wait_until([&] { return in_b->size() == in_b0 + 1; }));
  BOOST_REQUIRE(wait_until(
      [&] { return ba.stats().echo_dropped == a0.echo_dropped + 1; }));
  // A quiet round trip through the server: anything looping would show.
  rb.publish("orders.marker", std::string("from b"));
  BOOST_REQUIRE(wait_until([&] { return in_a->size() == in_a0 + 2; }));
  BOOST_REQUIRE(wait_until([&] { return in_b->size() == in_b0 + 2; }));
  auto a1 = ba.stats();
  auto b1 = bb.stats();
  BOOST_TEST(a1.exported == a0.exported + 1);
  BOOST_TEST(b1.exported == b0.exported + 1);  // only its own marker
  BOOST_TEST(a1.imported == a0.imported + 1);  // only b's marker
  BOOST_TEST(b1.imported == b0.imported + 1);
  BOOST_TEST(in_a->copy()[in_a0].subject == "orders.created");
  BOOST_TEST(in_a->size() == in_a0 + 2);
  BOOST_TEST(in_b->size() == in_b0 + 2);
}

BOOST_FIXTURE_TEST_CASE(a_server_restart_reconnects_and_counts_drops,
                        two_sites) {
  auto ca = config(server);
  ca.exports = {"orders.>"};
  ca.reconnect_buffer_bytes = 4096;
  auto cb = config(server);
  cb.imports = {"orders.>"};
  auto ba = bridge::start(a, ra, ca);
  auto bb = bridge::start(b, rb, cb);
  auto box = listen(b, rb, "orders.>");
  BOOST_REQUIRE(wait_until([&] { return connected(ba) && connected(bb); }));
  wait_ready(ra, "orders.ready", box);

  server.stop();
  BOOST_REQUIRE(wait_until(
      [&] { return ba.stats().state == bridge_state::reconnecting; }));
  auto before = ba.stats();
  // 200 events of about 100 bytes while down: the 4 KiB reconnect buffer
  // takes some, the rest are counted as dropped, none vanish.
  constexpr int down_events = 200;
  for (int i = 0; i < down_events; ++i) {
    ra.publish("orders.down",
               nlohmann::json{{"i", i}, {"pad", std::string(60, 'x')}});
  }
  BOOST_REQUIRE(wait_until([&] {
    auto s = ba.stats();
    return s.exported + s.dropped_export ==
           before.exported + before.dropped_export + down_events;
  }));
  auto down = ba.stats();
  std::uint64_t buffered = down.exported - before.exported;
  std::uint64_t dropped = down.dropped_export - before.dropped_export;
  BOOST_TEST_MESSAGE("while down: buffered " << buffered << ", dropped "
                                             << dropped);
  BOOST_TEST(buffered > 0u);
  BOOST_TEST(dropped > 0u);
  BOOST_TEST(buffered < 60u);

  server.start();
  BOOST_REQUIRE(wait_until([&] { return connected(ba) && connected(bb); }));
  BOOST_TEST(ba.stats().reconnects >= 1u);
  BOOST_TEST(bb.stats().reconnects >= 1u);
  // Buffered events reach B only if B resubscribed first (NATS core is
  // at-most-once): at most `buffered` of them arrive.
  wait_ready(ra, "orders.ready", box);
  ra.publish("orders.after", nlohmann::json{{"id", 1}});
  BOOST_REQUIRE(wait_until([&] {
    auto got = box->copy();
    return !got.empty() && got.back().subject == "orders.after";
  }));
  auto got = box->copy();
  std::size_t down_seen = 0;
  for (const auto& r : got) {
    down_seen += r.subject == "orders.down" ? 1 : 0;
  }
  BOOST_TEST_MESSAGE(
      "buffered events delivered after reconnect: " << down_seen);
  BOOST_TEST(down_seen <= buffered);
}

class echo_actor : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](int x) {
      return x + 1;
    }};
  }
};

BOOST_AUTO_TEST_CASE(a_missing_server_is_retried_and_the_system_serves) {
  int port = free_port();
  courier::system a({.loops = 1});
  auto ra = courier::router::of(a);
  bridge_config ca;
  ca.urls = {"nats://127.0.0.1:" + std::to_string(port)};
  ca.exports = {"orders.>"};
  ca.retry_min = 20ms;
  ca.retry_max = 100ms;
  auto ba = bridge::start(a, ra, ca);
  BOOST_REQUIRE(wait_until([&] { return ba.stats().connect_attempts >= 3; }));
  auto s = ba.stats();
  BOOST_TEST(courier::nats::to_string(s.state) == std::string("connecting"));
  BOOST_TEST(!s.last_error.empty());
  // The same single loop still serves other actors.
  auto echo = a.spawn<echo_actor>();
  BOOST_TEST(echo.ask<int>(41, {.timeout = 2s}).get() == 42);
  ra.publish("orders.lost", std::string("nobody connected"));
  BOOST_REQUIRE(wait_until([&] { return ba.stats().dropped_export == 1; }));
  // A bridge stopped before it ever connected ends cleanly (closed, and
  // nothing left behind: the ASan build checks for leaks).
  auto never = bridge::start(a, ra, ca);
  BOOST_REQUIRE(
      wait_until([&] { return never.stats().connect_attempts >= 1; }));
  never.stop();
  BOOST_REQUIRE(wait_until([&] {
    return never.stats().state == courier::nats::bridge_state::closed;
  }));

  nats_server server(port);
  BOOST_REQUIRE(wait_until([&] { return connected(ba); }));
  BOOST_TEST(ba.metrics_text().find("courier_nats_connected 1") !=
             std::string::npos);
  ba.stop();
  BOOST_REQUIRE(
      wait_until([&] { return ba.stats().state == bridge_state::closed; }));
}

}  // namespace
