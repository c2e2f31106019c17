// Tests of the HTTP client against the edge server and against raw sockets
// on 127.0.0.1: methods, keep-alive reuse, typed errors (bad URL, refused,
// timeout, too large, protocol, closed, a non-public address refused after
// name resolution), close-delimited responses, the
// retry after a stale keep-alive connection, and the poller's GET source.
#define BOOST_TEST_MODULE http_client
#include "courier/http_client.hpp"

#include "courier/courier.hpp"
#include "courier/http.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace http = courier::http;
using courier::test::box;

struct never_answer {};
class silent_actor : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](never_answer) {
      held_ = make_response_promise<std::string>();
      return held_;
    }};
  }

 private:
  courier::response_promise<std::string> held_;
};

struct server_fixture {
  explicit server_fixture(http::server_config cfg = {})
      : sys(courier::system_config{.loops = 2}) {
    auto silent = sys.spawn<silent_actor>();
    http::routes r;
    r.get("/hello", [](const http::request& q) {
      http::response res = http::response::text(200, "hello");
      res.headers.set("X-Echo", std::string(q.headers.get("X-Test")));
      return res;
    });
    r.post("/echo", [](const http::request& q) {
      return http::response::text(200, q.method + ":" + q.body);
    });
    r.put("/echo", [](const http::request& q) {
      return http::response::text(200, q.method + ":" + q.body);
    });
    r.del("/echo", [](const http::request& q) {
      return http::response::text(200, q.method + ":" + q.body);
    });
    r.get("/big", [](const http::request&) {
      return http::response::text(200, std::string(5000, 'x'));
    });
    r.get("/counter",
          [n = std::make_shared<std::atomic<int>>(0)](const http::request&) {
            return http::response::text(200, std::to_string(++*n / 2));
          });
    r.get(
        "/never",
        http::ask_route<std::string>(
            silent, [](const http::request&) { return never_answer{}; }, 10s));
    srv = http::server::start(sys, cfg, std::move(r));
    base = "http://127.0.0.1:" + std::to_string(srv.port());
  }
  courier::system sys;
  http::server srv;
  std::string base;
};

// Serves scripted replies to successive connections and records each
// request; the last connection stays open until the server is destroyed
// (or closes like the others with keep_last_open = false).
class script_server {
 public:
  explicit script_server(std::vector<std::string> replies,
                         bool keep_last_open = true)
      : replies_(std::move(replies)), keep_last_open_(keep_last_open) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { run(); });
  }
  ~script_server() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    if (open_ >= 0) {
      ::close(open_);
    }
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/events";
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void run() {
    for (std::size_t i = 0; i < replies_.size() && !stopping_; ++i) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) {
        return;
      }
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        req.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(req);
      }
      (void)::send(c, replies_[i].data(), replies_[i].size(), MSG_NOSIGNAL);
      if (i + 1 == replies_.size() && keep_last_open_) {
        open_ = c;  // keep the last one open
      } else {
        ::close(c);
      }
    }
  }

  std::vector<std::string> replies_;
  bool keep_last_open_;
  int fd_;
  std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  int open_ = -1;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

http::client_error error_of(const http::client& c, http::client_request r) {
  try {
    (void)c.request(std::move(r));
  } catch (const http::client_failure& f) {
    return f.error();
  }
  return http::client_error::none;
}

}  // namespace

BOOST_AUTO_TEST_CASE(methods_headers_bodies_and_keep_alive) {
  courier::test::time_limit guard{30s};
  server_fixture f;
  auto c = http::client::start(f.sys);
  http::client_request get;
  get.url = f.base + "/hello";
  get.headers.set("X-Test", "42");
  auto r = c.request(get);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "hello");
  BOOST_TEST(r.headers.get("X-Echo") == "42");
  for (const char* m : {"POST", "PUT", "DELETE"}) {
    http::client_request q;
    q.method = m;
    q.url = f.base + "/echo";
    q.body = "payload";
    BOOST_TEST(c.request(q).body == std::string(m) + ":payload");
  }
  http::client_request head;
  head.method = "HEAD";
  head.url = f.base + "/hello";
  auto h = c.request(head);
  BOOST_TEST(h.status == 200);
  BOOST_TEST(h.body.empty());
  BOOST_TEST(h.headers.get("Content-Length") == "5");
  BOOST_TEST(c.get(f.base + "/missing").status == 404);
  // All of it went over one kept-alive connection.
  BOOST_TEST(f.srv.stats().connections_accepted == 1u);
}

BOOST_AUTO_TEST_CASE(typed_errors) {
  courier::test::time_limit guard{60s};
  server_fixture f;
  auto c = http::client::start(f.sys, {.max_response_bytes = 1000});
  http::client_request r;
  r.url = "ftp://example.com/";
  BOOST_TEST((error_of(c, r) == http::client_error::bad_url));
  r.url = "http://:80/";
  BOOST_TEST((error_of(c, r) == http::client_error::bad_url));
  // Nothing listens on a port that was just released.
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    r.url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
    BOOST_TEST((error_of(c, r) == http::client_error::connect_failed));
  }
  r.url = f.base + "/never";
  r.timeout = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST((error_of(c, r) == http::client_error::timeout));
  BOOST_TEST((std::chrono::steady_clock::now() - t0) < 5s);
  r.url = f.base + "/big";
  r.timeout = 10s;
  BOOST_TEST((error_of(c, r) == http::client_error::too_large));
  {
    script_server garbage({"this is not HTTP at all\r\n\r\n"}, false);
    r.url = garbage.url();
    BOOST_TEST((error_of(c, r) == http::client_error::protocol));
  }
  {
    script_server cut({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"},
                      false);
    r.url = cut.url();
    BOOST_TEST((error_of(c, r) == http::client_error::closed));
  }
  // The client still works after all of that.
  BOOST_TEST(c.get(f.base + "/hello").body == "hello");
}

BOOST_AUTO_TEST_CASE(deny_private_addresses_refuses_before_connecting) {
  courier::test::time_limit guard{30s};
  server_fixture f;
  auto denying = http::client::start(f.sys, {.deny_private_addresses = true});
  std::string port = std::to_string(f.srv.port());
  http::client_request r;
  for (std::string host : {"127.0.0.1", "localhost", "127.1.2.3", "0.0.0.0"}) {
    r.url = "http://" + host + ":" + port + "/hello";
    try {
      (void)denying.request(r);
      BOOST_FAIL("no failure for " + host);
    } catch (const http::client_failure& e) {
      BOOST_TEST((e.error() == http::client_error::address_denied), host);
      BOOST_TEST(std::string(e.what()).find("not a public address") !=
                 std::string::npos);
    }
  }
  BOOST_TEST(f.srv.stats().connections_accepted == 0u);
  auto allowing = http::client::start(f.sys);
  BOOST_TEST(allowing.get(f.base + "/hello").body == "hello");
  BOOST_TEST(f.srv.stats().connections_accepted == 1u);
  // A denying client does not borrow another client's connections.
  r.url = f.base + "/hello";
  BOOST_TEST((error_of(denying, r) == http::client_error::address_denied));
  BOOST_TEST(f.srv.stats().connections_accepted == 1u);
}

BOOST_AUTO_TEST_CASE(public_and_non_public_addresses) {
  for (const char* a : {"0.0.0.0",
                        "0.1.2.3",
                        "10.0.0.1",
                        "100.64.0.1",
                        "127.0.0.1",
                        "127.255.255.254",
                        "169.254.169.254",
                        "172.16.0.1",
                        "172.31.255.255",
                        "192.0.0.1",
                        "192.0.2.1",
                        "192.168.1.1",
                        "198.18.0.1",
                        "198.51.100.1",
                        "203.0.113.1",
                        "224.0.0.1",
                        "239.255.255.250",
                        "240.0.0.1",
                        "255.255.255.255",
                        "::",
                        "::1",
                        "::127.0.0.1",
                        "::ffff:127.0.0.1",
                        "::ffff:10.1.2.3",
                        "64:ff9b::a00:1",
                        "64:ff9b:1::1",
                        "100::1",
                        "2001:db8::1",
                        "2002:7f00:1::1",
                        "fc00::1",
                        "fd12:3456::1",
                        "fe80::1",
                        "febf::1",
                        "fec0::1",
                        "ff02::1",
                        "not an address",
                        "",
                        "1.2.3",
                        "example.com"}) {
    BOOST_TEST(!http::is_public_address(a), a);
  }
  for (const char* a :
       {"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.128.0.1", "172.32.0.1",
        "172.15.255.255", "192.167.1.1", "198.20.0.1", "223.255.255.255",
        "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:808:808::1"}) {
    BOOST_TEST(http::is_public_address(a), a);
  }
}

BOOST_AUTO_TEST_CASE(a_response_delimited_by_the_close) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto c = http::client::start(sys);
  script_server old({"HTTP/1.0 200 OK\r\nX-Old: yes\r\n\r\nhello until close"},
                    false);
  auto r = c.get(old.url());
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "hello until close");
  BOOST_TEST(r.headers.get("X-Old") == "yes");
}

// The server closes an idle keep-alive connection; the next request on it
// is retried once on a fresh connection.
BOOST_AUTO_TEST_CASE(a_stale_keep_alive_connection_is_retried) {
  courier::test::time_limit guard{30s};
  server_fixture f(http::server_config{.idle_timeout = 100ms});
  auto c = http::client::start(f.sys);
  BOOST_TEST(c.get(f.base + "/hello").body == "hello");
  BOOST_REQUIRE(courier::test::poll_until(
      [&] { return f.srv.stats().connections_open == 0; }, 10s));
  BOOST_TEST(c.get(f.base + "/hello").body == "hello");
  BOOST_TEST(f.srv.stats().connections_accepted == 2u);
}

BOOST_AUTO_TEST_CASE(the_poller_gets_a_url) {
  courier::test::time_limit guard{30s};
  server_fixture f;
  auto c = http::client::start(f.sys);
  box<std::vector<std::string>> seen;
  auto values = std::make_shared<std::vector<std::string>>();
  courier::spawn_poller<std::string>(f.sys,
                                     http::get_source(c, f.base + "/counter"),
                                     [values, &seen](const std::string& v) {
                                       values->push_back(v);
                                       if (values->size() == 3) {
                                         seen.set(*values);
                                       }
                                     },
                                     {.interval = 1ms, .max_polls = 10});
  BOOST_REQUIRE(seen.wait_for(10s));
  // The counter changes every second poll: change detection drops repeats.
  BOOST_TEST(seen.get() == (std::vector<std::string>{"0", "1", "2"}));
}

namespace {

struct sse_log {
  std::mutex mutex;
  std::vector<std::string> lines;
  void add(std::string s) {
    std::lock_guard<std::mutex> lock(mutex);
    lines.push_back(std::move(s));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines;
  }
};

class sse_target : public courier::actor {
 public:
  explicit sse_target(sse_log* log) : log_(log) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const http::sse_event& e) {
              log_->add("event " + e.type + " " + e.id + " " + e.data);
            },
            [this](const http::sse_status& s) {
              log_->add(s.state == http::sse_status::open ? "open"
                        : s.state == http::sse_status::reconnecting
                            ? "reconnecting"
                            : "failed " + std::to_string(s.http_status));
            }};
  }

 private:
  sse_log* log_;
};

const std::string sse_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n\r\n";

}  // namespace

BOOST_AUTO_TEST_CASE(the_sse_reader_reconnects_with_last_event_id) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  script_server srv({sse_head +
                         ": hello\n\nretry: 50\n\nid: 1\ndata: one\n\n"
                         "id: 2\nevent: tick\ndata: two\ndata: lines\n\n",
                     sse_head + "id: 3\ndata: three\n\n"});
  sse_log log;
  auto target = sys.spawn<sse_target>(&log);
  auto reader = http::sse_reader::start(
      sys, {.url = srv.url(), .target = target, .last_event_id = "0"});
  BOOST_REQUIRE(courier::test::poll_until(
      [&] { return log.snapshot().size() >= 6; }, 10s));
  BOOST_TEST(log.snapshot() ==
             (std::vector<std::string>{
                 "open", "event message 1 one", "event tick 2 two\nlines",
                 "reconnecting", "open", "event message 3 three"}));
  auto reqs = srv.requests();
  BOOST_REQUIRE(reqs.size() == 2u);
  BOOST_TEST(reqs[0].find("Last-Event-ID: 0\r\n") != std::string::npos);
  BOOST_TEST(reqs[0].find("Accept: text/event-stream\r\n") !=
             std::string::npos);
  BOOST_TEST(reqs[1].find("Last-Event-ID: 2\r\n") != std::string::npos);
  sys.stop(reader.ref());
}

BOOST_AUTO_TEST_CASE(the_sse_reader_fails_for_good_on_a_bad_response) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  for (const std::string& reply :
       {std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 2\r\n\r\nhi")}) {
    script_server srv({reply, reply});
    sse_log log;
    auto target = sys.spawn<sse_target>(&log);
    http::sse_reader::start(sys, {.url = srv.url(),
                                  .target = target,
                                  .reconnect = std::chrono::milliseconds(10)});
    BOOST_REQUIRE(courier::test::poll_until(
        [&] { return !log.snapshot().empty(); }, 10s));
    BOOST_TEST(log.snapshot()[0].rfind("failed", 0) == 0u);
    // Twenty reconnect periods later, still one connection.
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(srv.requests().size() == 1u);
  }
  BOOST_CHECK_THROW(http::sse_reader::start(sys, {.url = "https://x/"}),
                    std::invalid_argument);
}

namespace {

struct delay_for {
  int ms;
};
// Answers after a delay (the test server's stand-in for holding a poll).
class delayer : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](delay_for d) {
      auto p = make_response_promise<int>();
      after(std::chrono::milliseconds(d.ms), [p]() mutable { p.deliver(0); });
      return p;
    }};
  }
};

struct poll_log {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines.size();
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines;
  }
};

class poll_target : public courier::actor {
 public:
  explicit poll_target(poll_log* log) : log_(log) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const http::long_poll_event& e) {
          std::lock_guard<std::mutex> lock(log_->mutex);
          log_->lines.push_back(e.id + " " + e.subject + " " + e.data.dump());
        },
        [this](const http::long_poll_reset& r) {
          std::lock_guard<std::mutex> lock(log_->mutex);
          log_->lines.push_back("reset " + r.next);
        }};
  }

 private:
  poll_log* log_;
};

}  // namespace

// A long-poll route over a router (seq numbers as cursors), empty answers
// held 20 ms; the reader follows the cursor and sees every event once.
BOOST_AUTO_TEST_CASE(the_long_poll_loop_follows_the_cursor) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto router =
      courier::router::named(sys, "lp", {.history = {.max_events = 4}});
  auto hold = sys.spawn<delayer>();
  http::routes routes;
  routes.get("/poll/{pattern}", [router, hold](http::request& req,
                                               http::responder out) {
    std::uint64_t since = std::stoull(req.query_param("since").value_or("0"));
    std::size_t max = std::stoul(req.query_param("max").value_or("100"));
    http::ask<courier::fetch_result>(
        router.ref(),
        courier::fetch_request{std::string(req.param("pattern")), since, max})
        .then(
            [out, hold](courier::fetch_result f) {
              nlohmann::json events = nlohmann::json::array();
              for (const auto& e : f.events) {
                events.push_back({{"id", std::to_string(e.seq())},
                                  {"subject", e.subject()},
                                  {"data", *e.get_if<int>()}});
              }
              nlohmann::json body = {{"events", events},
                                     {"next", std::to_string(f.next)},
                                     {"reset", f.reset}};
              if (!events.empty() || f.reset) {
                out.send(http::response::json(200, body));
                return;
              }
              http::ask<int>(hold, delay_for{20})
                  .then([out, body](
                            int) { out.send(http::response::json(200, body)); },
                        [out](const courier::ask_error&) {});
            },
            [out](const courier::ask_error& e) {
              out.send(http::error_response(e, true));
            });
  });
  auto srv = http::server::start(sys, {}, std::move(routes));
  std::string url =
      "http://127.0.0.1:" + std::to_string(srv.port()) + "/poll/orders.*";
  for (int i = 1; i <= 3; ++i) {
    router.publish("orders.created", i * 10);
  }
  auto c = http::client::start(sys);
  poll_log log;
  auto target = sys.spawn<poll_target>(&log);
  auto reader = http::long_poll_reader::start(
      sys, c, {.url = url, .target = target, .since = "0", .max = 2});
  BOOST_REQUIRE(
      courier::test::poll_until([&] { return log.size() >= 3; }, 10s));
  router.publish("orders.created", 40);
  router.publish("orders.shipped", 50);
  BOOST_REQUIRE(
      courier::test::poll_until([&] { return log.size() >= 5; }, 10s));
  BOOST_TEST(log.snapshot() == (std::vector<std::string>{
                                   "1 orders.created 10", "2 orders.created 20",
                                   "3 orders.created 30", "4 orders.created 40",
                                   "5 orders.shipped 50"}));
  sys.stop(reader.ref());

  // A cursor history no longer covers: reset, then what history holds.
  poll_log log2;
  auto target2 = sys.spawn<poll_target>(&log2);
  http::long_poll_reader::start(
      sys, c, {.url = url, .target = target2, .since = "0", .max = 10});
  BOOST_REQUIRE(
      courier::test::poll_until([&] { return log2.size() >= 5; }, 10s));
  auto lines = log2.snapshot();
  BOOST_TEST(lines[0] == "reset 5");
  BOOST_TEST(lines[1] == "2 orders.created 20");
  BOOST_TEST(lines[4] == "5 orders.shipped 50");
}

// The server drops the first two connections without an answer: the
// reader reports reconnecting each time, retries, and reads the third.
BOOST_AUTO_TEST_CASE(the_sse_reader_retries_until_the_server_is_up) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  script_server srv({"", "", sse_head + "id: 9\ndata: up\n\n"}, true);
  sse_log log;
  auto target = sys.spawn<sse_target>(&log);
  auto reader = http::sse_reader::start(
      sys, {.url = srv.url(),
            .target = target,
            .reconnect = std::chrono::milliseconds(10)});
  BOOST_REQUIRE(courier::test::poll_until(
      [&] {
        auto l = log.snapshot();
        return !l.empty() && l.back() == "event message 9 up";
      },
      10s));
  auto l = log.snapshot();
  BOOST_TEST(std::count(l.begin(), l.end(), "reconnecting") == 2);
  BOOST_TEST(srv.requests().size() == 3u);
  sys.stop(reader.ref());
}

namespace {

struct flaky_counter {
  std::atomic<int> calls{0};
};

}  // namespace

// Two failed polls (503, then a body that is not a poll result), then a
// good one: the reader backs off, retries, and delivers.
BOOST_AUTO_TEST_CASE(the_long_poll_loop_retries_failed_polls) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto calls = std::make_shared<flaky_counter>();
  http::routes routes;
  routes.get("/poll/{pattern}", [calls](const http::request& q) {
    int n = ++calls->calls;
    if (n == 1) {
      return http::response::error(503, "warming up");
    }
    if (n == 2) {
      return http::response::text(200, "not json");
    }
    if (q.query_param("since").value_or("") == "1") {
      return http::response::json(
          200, {{"events", nlohmann::json::array()}, {"next", "1"}});
    }
    return http::response::json(
        200, {{"events", {{{"id", "1"}, {"subject", "a.b"}, {"data", 7}}}},
              {"next", "1"}});
  });
  auto srv = http::server::start(sys, {}, std::move(routes));
  auto c = http::client::start(sys);
  poll_log log;
  auto target = sys.spawn<poll_target>(&log);
  auto reader = http::long_poll_reader::start(
      sys, c,
      {.url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/poll/a.*",
       .target = target,
       .backoff = std::chrono::milliseconds(10)});
  BOOST_REQUIRE(
      courier::test::poll_until([&] { return log.size() >= 1; }, 10s));
  BOOST_TEST(log.snapshot()[0] == "1 a.b 7");
  BOOST_TEST(calls->calls.load() >= 3);
  sys.stop(reader.ref());
}
