// Tests of SSE streams and long polling fed by the router, over real
// sockets on 127.0.0.1: the stream's wire format, resume with
// Last-Event-ID while publishers run on other threads (no gap, no
// duplicate), resets, heartbeats, slow clients cut and resumed without
// loss, long polls (immediate, held, timeout, max, client gone), publish,
// bad parameters, 1,000 SSE clients and 1,000 long-pollers, and curl as an
// independent SSE client.
#define BOOST_TEST_MODULE push
#include "courier/push.hpp"

#include "courier/courier.hpp"
#include "courier/sse.hpp"

#include "support/scale.hpp"
#include "support/socket_client.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>
#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::test::client;
namespace http = courier::http;
using json = nlohmann::json;

std::atomic<int> router_names{0};

struct fixture {
  explicit fixture(http::push_config pcfg = {},
                   courier::history_limits history = {})
      : sys(courier::system_config{.loops = 2}) {
    courier::router_config rc;
    rc.history = history;
    rc.loop = 1;  // the router on the other loop than the edge
    rt = courier::router::named(
        sys, "push-test-" + std::to_string(router_names++), rc);
    http::server_config scfg;
    scfg.loop = 0;
    http::routes r;
    push = http::push::mount(sys, scfg, r, rt, std::move(pcfg));
    srv = http::server::start(sys, scfg, std::move(r));
  }
  ~fixture() { srv.stop(); }

  std::string id(std::uint64_t seq) const {
    return rt.epoch() + "-" + std::to_string(seq);
  }

  // Waits until the push counters satisfy `pred`.
  template <class Pred>
  bool wait_stats(Pred pred, std::chrono::milliseconds deadline = 10000ms) {
    auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      if (pred(push.stats())) {
        return true;
      }
      if (std::chrono::steady_clock::now() > end) {
        return false;
      }
      std::this_thread::sleep_for(2ms);  // between polls of a counter
    }
  }

  courier::system sys;
  courier::router rt;
  http::push push;
  http::server srv;
};

// An SSE client over a raw socket: the head, then parsed events.
struct sse_client {
  sse_client(std::uint16_t port, const std::string& path,
             const std::string& extra = {}, int receive_buffer = 0)
      : c(port, receive_buffer) {
    c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n");
    head_ok = c.read_until([](const std::string& b) {
      return b.find("\r\n\r\n") != std::string::npos;
    });
    if (head_ok) {
      std::string b = c.take();
      std::size_t end = b.find("\r\n\r\n");
      head = b.substr(0, end);
      feed(b.substr(end + 4));
    }
  }

  void feed(const std::string& bytes) {
    raw += bytes;
    parser.feed(bytes,
                [this](http::sse_event e) { events.push_back(std::move(e)); });
  }

  // Reads until `pred()` holds or the deadline passes.
  template <class Pred>
  bool read_until(Pred pred, std::chrono::milliseconds deadline = 10000ms) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0 || c.closed()) {
        return pred();
      }
      c.read_until([](const std::string& b) { return !b.empty(); }, left);
      feed(c.take());
    }
    return true;
  }

  bool wait_events(std::size_t n, std::chrono::milliseconds d = 10000ms) {
    return read_until([this, n] { return events.size() >= n; }, d);
  }

  client c;
  bool head_ok = false;
  std::string head;
  std::string raw;
  http::sse_parser parser;
  std::vector<http::sse_event> events;
};

std::uint64_t seq_of(const std::string& id) {
  std::string epoch;
  std::uint64_t seq = 0;
  BOOST_REQUIRE(http::parse_event_id(id, epoch, seq));
  return seq;
}

client::reply request(std::uint16_t port, const std::string& method,
                      const std::string& path, const std::string& body = {},
                      const std::string& extra = {}) {
  client c(port);
  c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  return c.read_reply();
}

json poll(std::uint16_t port, const std::string& query) {
  client::reply r = request(port, "GET", query);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  return json::parse(r.body);
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_sse_stream_follows_the_wire_rules) {
  fixture f;
  sse_client s(f.srv.port(), "/sse/orders.>");
  BOOST_REQUIRE(s.head_ok);
  client::reply h;
  h.head = s.head;
  BOOST_TEST(s.head.starts_with("HTTP/1.1 200"));
  BOOST_TEST(h.header("Content-Type") == "text/event-stream");
  BOOST_TEST(h.header("Cache-Control") == "no-cache");
  BOOST_TEST(h.header("X-Accel-Buffering") == "no");
  BOOST_TEST(h.header("Content-Length") == "");
  // The opening comment and retry arrive at once, before any event.
  BOOST_REQUIRE(s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  BOOST_TEST(s.raw.starts_with(": courier\nretry: 3000\n\n"));
  BOOST_TEST(s.parser.retry().value_or(0) == 3000);

  f.rt.publish("orders.created", json{{"id", 1}, {"item", "widget"}});
  f.rt.publish("other.thing", json{{"no", true}});  // does not match
  f.rt.publish("orders.note", std::string("line one\r\nline two\rthree\n"));
  BOOST_REQUIRE(s.wait_events(2));
  BOOST_TEST(s.events[0].type == "orders.created");
  BOOST_TEST(json::parse(s.events[0].data) ==
             (json{{"id", 1}, {"item", "widget"}}));
  BOOST_TEST(s.events[0].id == f.id(1));
  BOOST_TEST(s.events[1].type == "orders.note");
  BOOST_TEST(s.events[1].data == "line one\nline two\nthree\n");
  BOOST_TEST(s.events[1].id == f.id(3));
  // Exactly one space after each colon; one data line per payload line.
  BOOST_TEST(s.raw.find("id: " + f.id(3) +
                        "\nevent: orders.note\ndata: line one\ndata: line "
                        "two\ndata: three\ndata: \n\n") != std::string::npos);
  // Subjects (event names) with CR, LF or NUL never reach the wire.
  BOOST_CHECK_THROW(f.rt.publish("orders.a\nb", std::string("x")),
                    std::invalid_argument);
  BOOST_CHECK_THROW(
      f.rt.publish(std::string("orders.a\0b", 10), std::string("x")),
      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(random_payloads_round_trip_through_a_stream) {
  fixture f;
  sse_client s(f.srv.port(), "/sse/p");
  BOOST_REQUIRE(s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  std::mt19937 rng(7);
  const char alphabet[] = {'a', ' ', '\r', '\n', '\0', ':', 'z'};
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) {
    std::string p;
    std::size_t len = rng() % 40;
    for (std::size_t k = 0; k < len; ++k) {
      int pick = static_cast<int>(rng() % 9);
      if (pick < 7) {
        p.push_back(alphabet[pick]);
      } else {
        p += "\xC3\xA9";  // é
      }
    }
    sent.push_back(p);
    f.rt.publish("p", p);
  }
  BOOST_REQUIRE(s.wait_events(sent.size()));
  for (std::size_t i = 0; i < sent.size(); ++i) {
    std::string expect;  // CRLF and lone CR come back as LF
    for (std::size_t k = 0; k < sent[i].size(); ++k) {
      if (sent[i][k] == '\r') {
        expect.push_back('\n');
        if (k + 1 < sent[i].size() && sent[i][k + 1] == '\n') {
          ++k;
        }
      } else {
        expect.push_back(sent[i][k]);
      }
    }
    BOOST_TEST_CONTEXT("payload " << i) {
      BOOST_TEST(s.events[i].data == expect);
    }
  }
}

BOOST_AUTO_TEST_CASE(resume_with_last_event_id_while_publishers_run) {
  fixture f;
  const int per_thread = static_cast<int>(courier::test::scaled(3000, 300));
  std::atomic<bool> go{false};
  std::vector<std::thread> pubs;
  for (int t = 0; t < 2; ++t) {
    pubs.emplace_back([&, t] {
      while (!go.load()) {
        std::this_thread::yield();
      }
      for (int i = 0; i < per_thread; ++i) {
        f.rt.publish(t == 0 ? "feed.a" : "feed.b", json{{"t", t}, {"i", i}});
      }
    });
  }
  const std::uint64_t total = 2u * static_cast<std::uint64_t>(per_thread);
  std::vector<std::uint64_t> seen;
  std::string last_id;
  int connections = 0;
  // Read a few events per connection, drop it, resume from the last id.
  while (seen.empty() || seen.back() < total) {
    ++connections;
    BOOST_REQUIRE(connections < 10000);
    std::string extra =
        last_id.empty() ? "" : "Last-Event-ID: " + last_id + "\r\n";
    sse_client s(
        f.srv.port(),
        last_id.empty() ? "/sse/feed.*?since=" + f.id(0) : "/sse/feed.*",
        extra);
    BOOST_REQUIRE(s.head_ok);
    go = true;
    std::size_t want = std::min<std::size_t>(
        1 + (static_cast<std::size_t>(connections) * 37) % 97,
        total - seen.size());
    s.wait_events(want, 5000ms);
    BOOST_REQUIRE(!s.events.empty());
    // Keep `want` of them (more may have arrived): the rest come again.
    for (std::size_t i = 0; i < std::min(want, s.events.size()); ++i) {
      const auto& e = s.events[i];
      BOOST_REQUIRE(e.type != "reset");
      seen.push_back(seq_of(e.id));
      last_id = e.id;
    }
  }
  for (auto& t : pubs) {
    t.join();
  }
  BOOST_TEST(connections > 2);
  // Every sequence number once, in order: no gap, no duplicate.
  BOOST_REQUIRE_EQUAL(seen.size(), total);
  for (std::uint64_t i = 0; i < total; ++i) {
    BOOST_REQUIRE_EQUAL(seen[i], i + 1);
  }
}

BOOST_AUTO_TEST_CASE(a_reset_when_history_is_too_short_or_of_another_epoch) {
  fixture f({}, courier::history_limits{.max_events = 10});
  for (int i = 1; i <= 30; ++i) {
    f.rt.publish("r.x", json(i));
  }
  f.rt.fetch("r.x", 0, 0);  // the publishes are in
  sse_client s(f.srv.port(), "/sse/r.x", "Last-Event-ID: " + f.id(5) + "\r\n");
  BOOST_REQUIRE(s.wait_events(11));
  BOOST_TEST(s.events[0].type == "reset");
  BOOST_TEST(s.events[0].id == f.id(20));
  BOOST_TEST(json::parse(s.events[0].data)["first_available"] == f.id(21));
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST(s.events[1 + i].id == f.id(21 + i));
  }
  // An id of another epoch (a restart) resets too.
  sse_client o(f.srv.port(), "/sse/r.x?since=zzzz-25");
  BOOST_REQUIRE(o.wait_events(11));
  BOOST_TEST(o.events[0].type == "reset");
  BOOST_TEST(o.events[1].id == f.id(21));
  // A resume point within history: no reset.
  sse_client n(f.srv.port(), "/sse/r.x?since=" + f.id(27));
  BOOST_REQUIRE(n.wait_events(3));
  BOOST_TEST(n.events[0].id == f.id(28));
  BOOST_TEST(f.push.stats().resets == 2u);
  BOOST_TEST(f.push.stats().streams_resumed == 3u);
  // Long polling: the same rule, as "reset": true.
  json p = poll(f.srv.port(), "/poll/r.x?since=" + f.id(3) + "&max=4");
  BOOST_TEST(p["reset"] == true);
  BOOST_REQUIRE_EQUAL(p["events"].size(), 4u);
  BOOST_TEST(p["events"][0]["id"] == f.id(21));
  BOOST_TEST(p["next"] == f.id(24));
}

BOOST_AUTO_TEST_CASE(heartbeats_keep_an_idle_stream_alive) {
  http::push_config cfg;
  cfg.heartbeat = 100ms;
  fixture f(cfg);
  sse_client s(f.srv.port(), "/sse/hb");
  BOOST_REQUIRE(s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  auto start = std::chrono::steady_clock::now();
  auto beats = [&] {
    std::size_t n = 0;
    for (std::size_t i = s.raw.find(":\n\n"); i != std::string::npos;
         i = s.raw.find(":\n\n", i + 1)) {
      ++n;
    }
    return n;
  };
  BOOST_REQUIRE(s.read_until([&] { return beats() >= 3; }, 10000ms));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  BOOST_TEST(took.count() >= 270);  // never sooner than one per interval
  BOOST_TEST(s.events.empty());
  // A heartbeat never splits an event: every event still parses whole.
  f.rt.publish("hb", std::string("after"));
  BOOST_REQUIRE(s.wait_events(1));
  BOOST_TEST(s.events[0].data == "after");
  BOOST_TEST(f.push.stats().heartbeats >= 3u);
}

BOOST_AUTO_TEST_CASE(a_slow_client_is_cut_and_resumes_without_loss) {
  http::push_config cfg;
  cfg.max_stream_buffer = 64 * 1024;
  fixture f(cfg);
  sse_client s(f.srv.port(), "/sse/big", {}, 4096);
  BOOST_REQUIRE(s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  f.rt.publish("big", std::string("first"));
  BOOST_REQUIRE(s.wait_events(1));
  std::string resume = s.events[0].id;
  // The client stops reading; publish until the edge cuts it.
  const std::string payload(1000, 'x');
  std::uint64_t published = 1;
  while (f.push.stats().slow_disconnects == 0) {
    for (int i = 0; i < 100; ++i) {
      f.rt.publish("big", payload);
    }
    published += 100;
    BOOST_REQUIRE(published < 30000);
    f.rt.fetch("big", 0, 0);  // let the push actor keep up
  }
  BOOST_TEST(f.push.stats().slow_disconnects == 1u);
  // Resume: every event after the last one read, once, in order.
  sse_client r(f.srv.port(), "/sse/big", "Last-Event-ID: " + resume + "\r\n");
  BOOST_REQUIRE(r.wait_events(published - 1, 30000ms));
  BOOST_REQUIRE_EQUAL(r.events.size(), published - 1);
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    BOOST_REQUIRE_EQUAL(seq_of(r.events[i].id), i + 2);
  }
  BOOST_TEST(r.events.back().data == payload);
}

BOOST_AUTO_TEST_CASE(long_polls_answer_at_once_hold_time_out_and_cut) {
  fixture f;
  const std::uint16_t port = f.srv.port();
  // From now, with timeout=0: plain polling, just the cursor.
  json first = poll(port, "/poll/lp.>?timeout=0");
  BOOST_TEST(first["events"].empty());
  BOOST_TEST(first["next"] == f.id(0));
  for (int i = 1; i <= 5; ++i) {
    f.rt.publish("lp.n", json{{"n", i}});
  }
  f.rt.fetch("lp.>", 0, 0);  // the router has them (same sender: in order)
  // Events after `since` exist: at once, at most `max`.
  json a = poll(
      port, "/poll/lp.>?since=" + first["next"].get<std::string>() + "&max=2");
  BOOST_REQUIRE_EQUAL(a["events"].size(), 2u);
  BOOST_TEST(a["events"][0]["id"] == f.id(1));
  BOOST_TEST(a["events"][0]["subject"] == "lp.n");
  BOOST_TEST(a["events"][0]["data"] == (json{{"n", 1}}));
  BOOST_TEST(a["next"] == f.id(2));
  BOOST_TEST(!a.contains("reset"));
  json b = poll(port, "/poll/lp.>?since=" + a["next"].get<std::string>());
  BOOST_REQUIRE_EQUAL(b["events"].size(), 3u);
  BOOST_TEST(b["next"] == f.id(5));

  // Held, then woken by a publish.
  client held(port);
  held.send("GET /poll/lp.>?since=" + f.id(5) +
            "&timeout=20 HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE(
      f.wait_stats([](const http::push_stats& s) { return s.waiters == 1; }));
  f.rt.publish("lp.n", json{{"n", 6}});
  client::reply woken = held.read_reply();
  BOOST_REQUIRE_EQUAL(woken.status, 200);
  json w = json::parse(woken.body);
  BOOST_REQUIRE_EQUAL(w["events"].size(), 1u);
  BOOST_TEST(w["events"][0]["data"]["n"] == 6);
  BOOST_TEST(w["next"] == f.id(6));

  // Timeout: the same shape, no events, the cursor kept.
  auto t0 = std::chrono::steady_clock::now();
  json t = poll(port, "/poll/lp.>?since=" + f.id(6) + "&timeout=0.2");
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count() >= 190);
  BOOST_TEST(t["events"].empty());
  BOOST_TEST(t["next"] == f.id(6));
  BOOST_TEST(f.push.stats().poll_timeouts == 1u);

  // The client goes away while waiting: the waiter goes at once.
  {
    client gone(port);
    gone.send("GET /poll/lp.>?timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_REQUIRE(
        f.wait_stats([](const http::push_stats& s) { return s.waiters == 1; }));
  }
  BOOST_REQUIRE(
      f.wait_stats([](const http::push_stats& s) { return s.waiters == 0; }));
  std::uint64_t answered = f.push.stats().poll_responses;
  f.rt.publish("lp.n", json{{"n", 7}});
  json after = poll(port, "/poll/lp.>?since=" + f.id(6));
  BOOST_REQUIRE_EQUAL(after["events"].size(), 1u);
  BOOST_TEST(f.push.stats().poll_responses == answered + 1);
}

BOOST_AUTO_TEST_CASE(publish_over_http_with_a_token) {
  http::push_config cfg;
  cfg.publish = true;
  cfg.publish_token = "s3cret";
  fixture f(cfg);
  const std::uint16_t port = f.srv.port();
  const std::string auth = "Authorization: Bearer s3cret\r\n";
  sse_client s(port, "/sse/news.>");
  BOOST_REQUIRE(s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  BOOST_TEST(request(port, "POST", "/publish/news.a", "{}").status == 401);
  client::reply j = request(port, "POST", "/publish/news.a", R"({"k":1})",
                            auth + "Content-Type: application/json\r\n");
  BOOST_REQUIRE_EQUAL(j.status, 202);
  BOOST_TEST(json::parse(j.body)["id"] == f.id(1));
  client::reply t = request(port, "POST", "/publish/news.b", "plain words",
                            auth + "Content-Type: text/plain\r\n");
  BOOST_REQUIRE_EQUAL(t.status, 202);
  BOOST_TEST(request(port, "POST", "/publish/news.c", "{bad",
                     auth + "Content-Type: application/json\r\n")
                 .status == 400);
  BOOST_TEST(request(port, "POST", "/publish/news.*", "x", auth).status == 400);
  BOOST_TEST(request(port, "POST", "/publish/news%0Ax", "x", auth).status ==
             400);
  BOOST_REQUIRE(s.wait_events(2));
  BOOST_TEST(s.events[0].data == R"({"k":1})");
  BOOST_TEST(s.events[1].data == "plain words");
  json p = poll(port, "/poll/news.>?since=" + f.id(0));
  BOOST_TEST(p["events"][0]["data"] == (json{{"k", 1}}));
  BOOST_TEST(p["events"][1]["data"] == "plain words");
  BOOST_TEST(f.push.stats().published == 2u);
}

BOOST_AUTO_TEST_CASE(a_publish_is_answered_after_this_loops_streams_have_it) {
  // The 202 goes out behind the fan-out to the streams of the push actor's
  // loop: a publisher that waits for it before the next event does not
  // queue that event behind this one's writes (benchmarks/push.sh, paced).
  // On loopback a write lands in the peer's receive queue before it
  // returns, so the event must be readable the moment the 202 is.
  http::push_config cfg;
  cfg.publish = true;
  fixture f(cfg);
  const std::uint16_t port = f.srv.port();
  std::vector<std::unique_ptr<sse_client>> streams;
  for (int i = 0; i < 20; ++i) {
    streams.push_back(std::make_unique<sse_client>(port, "/sse/paced.>"));
    sse_client& s = *streams.back();
    BOOST_REQUIRE(
        s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  }
  for (std::size_t n = 1; n <= 30; ++n) {
    client::reply r =
        request(port, "POST", "/publish/paced.x", std::to_string(n),
                "Content-Type: application/json\r\n");
    BOOST_REQUIRE_EQUAL(r.status, 202);
    for (auto& s : streams) {
      s->c.read_now();
      s->feed(s->c.take());
      BOOST_REQUIRE_EQUAL(s->events.size(), n);
      BOOST_TEST(s->events.back().data == std::to_string(n));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_parameters_get_a_400_and_limits_a_503) {
  http::push_config cfg;
  cfg.max_streams = 1;
  cfg.max_waiters = 1;
  fixture f(cfg);
  const std::uint16_t port = f.srv.port();
  for (const char* path :
       {"/sse/a..b", "/sse/a.>.b", "/sse/x?since=nonsense",
        "/sse/x?since=ab-12x", "/poll/a..b", "/poll/x?since=17",
        "/poll/x?timeout=abc", "/poll/x?timeout=-1", "/poll/x?max=x",
        "/poll/x?max=0"}) {
    BOOST_TEST_CONTEXT(path) {
      client::reply r = request(port, "GET", path);
      BOOST_TEST(r.status == 400);
      BOOST_TEST(json::parse(r.body)["error"]["status"] == 400);
    }
  }
  BOOST_TEST(request(port, "POST", "/publish/x", "1").status == 404);
  sse_client one(port, "/sse/x");
  BOOST_REQUIRE(one.head_ok);
  BOOST_TEST(request(port, "GET", "/sse/y").status == 503);
  client held(port);
  held.send("GET /poll/x?timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE(
      f.wait_stats([](const http::push_stats& s) { return s.waiters == 1; }));
  BOOST_TEST(request(port, "GET", "/poll/y?timeout=5").status == 503);
  // The server goes on serving.
  BOOST_TEST(request(port, "GET", "/poll/y?timeout=0").status == 200);
}

BOOST_AUTO_TEST_CASE(metrics_and_dropped_streams) {
  fixture f;
  const std::uint16_t port = f.srv.port();
  sse_client s(port, "/sse/m");
  BOOST_REQUIRE(s.read_until([&] { return s.raw.find("\n\n") != s.raw.npos; }));
  f.rt.publish("m", std::string("one"));
  BOOST_REQUIRE(s.wait_events(1));
  client::reply m = request(port, "GET", "/metrics");
  BOOST_TEST(m.body.find("courier_sse_streams_open 1\n") != std::string::npos);
  BOOST_TEST(m.body.find("courier_sse_events_written_total 1\n") !=
             std::string::npos);
  BOOST_TEST(m.body.find("courier_longpoll_waiters 0\n") != std::string::npos);
  // The server drops every stream; the client resumes where it was.
  f.push.drop_streams();
  BOOST_REQUIRE(s.read_until([&] { return s.c.closed(); }));
  f.rt.publish("m", std::string("two"));
  sse_client again(port, "/sse/m", "Last-Event-ID: " + s.events[0].id + "\r\n");
  BOOST_REQUIRE(again.wait_events(1));
  BOOST_TEST(again.events[0].data == "two");
}

BOOST_AUTO_TEST_CASE(a_gone_router_gives_a_503_not_a_hang) {
  http::push_config cfg;
  cfg.publish = true;
  fixture f(cfg);
  const std::uint16_t port = f.srv.port();
  f.sys.stop(f.rt.ref());
  // Each new pattern needs the router (its subscription and a fetch).
  int n = 0;
  auto next = [&n] {
    return std::to_string(n++);
  };
  BOOST_REQUIRE(courier::test::poll_until(
      [&] {
        return request(port, "GET", "/poll/gone" + next() + "?timeout=0")
                   .status == 503;
      },
      10s));
  client::reply s = request(port, "GET", "/sse/gone" + next());
  BOOST_TEST(s.status == 503);
  BOOST_TEST(json::parse(s.body)["error"]["status"] == 503);
  BOOST_TEST(
      request(port, "GET", "/sse/gone" + next() + "?since=" + f.id(0)).status ==
      503);
  BOOST_TEST(request(port, "POST", "/publish/gone", "{}").status == 503);
  BOOST_TEST(f.push.stats().streams_open == 0u);
  BOOST_TEST(f.push.stats().waiters == 0u);
}

BOOST_AUTO_TEST_CASE(an_unused_pattern_is_unsubscribed_after_its_linger) {
  http::push_config cfg;
  cfg.linger = 50ms;
  fixture f(cfg);
  {
    sse_client s(f.srv.port(), "/sse/linger");
    BOOST_REQUIRE(s.head_ok);
    BOOST_REQUIRE(f.wait_stats(
        [](const http::push_stats& st) { return st.patterns == 1; }));
  }
  BOOST_REQUIRE(f.wait_stats([](const http::push_stats& st) {
    return st.streams_open == 0 && st.patterns == 0;
  }));
  BOOST_TEST(f.rt.stats().subscriptions.empty());
  // It comes back on demand.
  sse_client again(f.srv.port(), "/sse/linger");
  BOOST_REQUIRE(again.read_until(
      [&] { return again.raw.find("\n\n") != again.raw.npos; }));
  f.rt.publish("linger", std::string("back"));
  BOOST_REQUIRE(again.wait_events(1));
  BOOST_TEST(again.events[0].data == "back");
}

BOOST_AUTO_TEST_CASE(a_stream_behind_a_pipelined_request_waits_its_turn) {
  fixture f;
  client c(f.srv.port());
  // Two requests in one write: the stream's head goes out after the
  // first response, and nothing pipelined after the stream is answered.
  c.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /sse/pipe HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  client::reply first = c.read_reply();
  BOOST_TEST(first.status == 200);
  BOOST_TEST(first.body == R"({"status":"ok"})");
  BOOST_REQUIRE(c.read_until([](const std::string& b) {
    return b.find("\r\n\r\n") != std::string::npos;
  }));
  BOOST_TEST(c.buffer().starts_with("HTTP/1.1 200 OK\r\n"));
  BOOST_TEST(c.buffer().find("text/event-stream") != std::string::npos);
  f.rt.publish("pipe", std::string("after"));
  BOOST_REQUIRE(c.read_until([](const std::string& b) {
    return b.find("data: after\n\n") != std::string::npos;
  }));
  BOOST_TEST(c.buffer().find("status") == std::string::npos);
}

// Many clients at once: every event reaches each of them exactly once.
BOOST_AUTO_TEST_CASE(a_thousand_sse_clients_and_a_thousand_long_pollers) {
  fixture f;
  const std::uint16_t port = f.srv.port();
  const std::size_t n = courier::test::scaled(1000, 50);
  const int events = 50;
  // SSE clients.
  std::vector<std::unique_ptr<sse_client>> streams;
  for (std::size_t i = 0; i < n; ++i) {
    streams.push_back(std::make_unique<sse_client>(port, "/sse/many.>"));
    BOOST_REQUIRE(streams.back()->head_ok);
  }
  BOOST_REQUIRE(f.wait_stats(
      [n](const http::push_stats& s) { return s.streams_open == n; }));
  // Long-pollers, each held with the same cursor.
  json start = poll(port, "/poll/many.>?timeout=0");
  std::string cursor = start["next"];
  struct poller {
    std::unique_ptr<client> c;
    std::set<int> got;
    std::string next;
  };
  std::vector<poller> pollers(n);
  auto ask = [port](poller& p) {
    p.c = std::make_unique<client>(port);
    p.c->send("GET /poll/many.>?timeout=30&max=1000&since=" + p.next +
              " HTTP/1.1\r\nHost: x\r\n\r\n");
  };
  for (poller& p : pollers) {
    p.next = cursor;
    ask(p);
  }
  BOOST_REQUIRE(f.wait_stats(
      [n](const http::push_stats& s) { return s.waiters == n; }, 30000ms));
  std::thread publisher([&] {
    for (int i = 0; i < events; ++i) {
      f.rt.publish("many.e", json(i));
    }
  });
  // Each long-poller re-polls at once until it has every event.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::size_t done = 0;
  while (done < n && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<poller*> who;
    for (poller& p : pollers) {
      if (static_cast<int>(p.got.size()) < events) {
        fds.push_back(pollfd{p.c->fd(), POLLIN, 0});
        who.push_back(&p);
      }
    }
    done = n - who.size();
    if (who.empty() || ::poll(fds.data(), fds.size(), 100) <= 0) {
      continue;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) {
        continue;
      }
      poller& p = *who[i];
      client::reply r = p.c->read_reply(false, 5000ms);
      BOOST_REQUIRE(r.complete);
      json body = json::parse(r.body);
      for (const json& e : body["events"]) {
        BOOST_REQUIRE(p.got.insert(e["data"].get<int>()).second);
      }
      p.next = body["next"];
      if (static_cast<int>(p.got.size()) < events) {
        ask(p);
      }
    }
  }
  publisher.join();
  BOOST_TEST(done == n);
  for (auto& s : streams) {
    BOOST_REQUIRE(s->wait_events(events, 20000ms));
    BOOST_REQUIRE_EQUAL(s->events.size(), static_cast<std::size_t>(events));
    for (int i = 0; i < events; ++i) {
      BOOST_REQUIRE_EQUAL(s->events[i].data, std::to_string(i));
    }
  }
}

BOOST_AUTO_TEST_CASE(curl_reads_the_stream) {
  if (std::system("command -v curl >/dev/null 2>&1") != 0) {
    BOOST_TEST_MESSAGE("curl not installed: skipped");
    return;
  }
  fixture f;
  std::string cmd =
      "curl -sN --max-time 2 http://127.0.0.1:" + std::to_string(f.srv.port()) +
      "/sse/c.%3E";
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  BOOST_REQUIRE(f.wait_stats(
      [](const http::push_stats& s) { return s.streams_open == 1; }));
  f.rt.publish("c.one", json{{"a", 1}});
  f.rt.publish("c.two", std::string("two\nlines"));
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  ::pclose(p);
  http::sse_parser parser;
  std::vector<http::sse_event> got;
  parser.feed(out, [&](http::sse_event e) { got.push_back(std::move(e)); });
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[0].type == "c.one");
  BOOST_TEST(got[0].data == R"({"a":1})");
  BOOST_TEST(got[0].id == f.id(1));
  BOOST_TEST(got[1].data == "two\nlines");
}
