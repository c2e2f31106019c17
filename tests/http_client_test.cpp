// Tests of the HTTP client against the edge server and against raw sockets
// on 127.0.0.1: methods, keep-alive reuse, typed errors (bad URL, refused,
// timeout, too large, protocol, closed), close-delimited responses, the
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

#include <atomic>
#include <chrono>
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

// A one-shot raw server: accepts one connection, reads a little, writes
// `reply`, closes.
class raw_server {
 public:
  explicit raw_server(std::string reply) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 4);
    thread_ = std::thread([this, reply = std::move(reply)] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) {
        return;
      }
      char buf[4096];
      (void)::recv(c, buf, sizeof(buf), 0);
      (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  }
  ~raw_server() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/";
  }

 private:
  int fd_;
  std::uint16_t port_;
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
    raw_server garbage("this is not HTTP at all\r\n\r\n");
    r.url = garbage.url();
    BOOST_TEST((error_of(c, r) == http::client_error::protocol));
  }
  {
    raw_server cut("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    r.url = cut.url();
    BOOST_TEST((error_of(c, r) == http::client_error::closed));
  }
  // The client still works after all of that.
  BOOST_TEST(c.get(f.base + "/hello").body == "hello");
}

BOOST_AUTO_TEST_CASE(a_response_delimited_by_the_close) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto c = http::client::start(sys);
  raw_server old("HTTP/1.0 200 OK\r\nX-Old: yes\r\n\r\nhello until close");
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
