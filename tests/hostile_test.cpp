// The HTTP edge under hostile input, over real sockets on 127.0.0.1:
// invalid UTF-8 in the path and query, unsupported HTTP versions, the
// absolute form, throwing handlers and hooks (never past libuv), deeply
// nested JSON (publish, in-process payloads, parse_json), and pipelined
// long polls that never read (the answer budgets bound what the server
// holds, and /healthz still answers).
#define BOOST_TEST_MODULE hostile
#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/json.hpp"
#include "courier/push.hpp"

#include "http/http_impl.hpp"  // white-box: UTF-8 and JSON string helpers
#include "support/scale.hpp"
#include "support/socket_client.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::test::client;
namespace http = courier::http;
using json = nlohmann::json;

std::string get(std::string_view target, std::string_view version = "1.1") {
  return "GET " + std::string(target) + " HTTP/" + std::string(version) +
         "\r\nHost: t\r\n\r\n";
}

// One request on a fresh connection.
client::reply ask_once(std::uint16_t port, const std::string& raw) {
  client c(port);
  BOOST_REQUIRE(c.ok());
  c.send(raw);
  return c.read_reply();
}

bool healthy(std::uint16_t port) {
  return ask_once(port, get("/healthz")).status == 200;
}

// The body of an error answer parses and names the status.
void check_error_body(const client::reply& r, int status) {
  BOOST_TEST(r.status == status);
  json j = json::parse(r.body, nullptr, false);
  BOOST_TEST_REQUIRE(!j.is_discarded(), r.body);
  BOOST_TEST(j["error"]["status"] == status);
}

struct failure_log {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> seen;
  void add(std::string_view where, std::string_view what) {
    std::lock_guard lock(mutex);
    seen.emplace_back(where, what);
  }
  bool has(std::string_view where_part, std::string_view what_part) {
    std::lock_guard lock(mutex);
    for (const auto& [w, x] : seen) {
      if (w.find(where_part) != std::string::npos &&
          x.find(what_part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
};

struct edge_fixture {
  courier::system sys{courier::system_config{.loops = 1}};
  std::shared_ptr<failure_log> log = std::make_shared<failure_log>();
  http::server srv;

  explicit edge_fixture(http::routes r = {}) {
    http::server_config cfg;
    cfg.on_error = [log = log](std::string_view where, std::string_view what) {
      log->add(where, what);
    };
    r.get("/echo/{rest*}", [](const http::request& req) {
      return http::response::text(200, req.path);
    });
    srv = http::server::start(sys, cfg, std::move(r));
  }
  ~edge_fixture() { srv.stop(); }
};

}  // namespace

// --- untrusted text -------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_utf8_in_the_path_is_a_400_not_a_crash) {
  edge_fixture f;
  for (const char* target :
       {"/%ff", "/nope/%c3%28", "/echo/%ed%a0%80", "/%f4%90%80%80", "/%c0%af",
        "/echo/\xdb", "/\xff/x"}) {
    client::reply r = ask_once(f.srv.port(), get(target));
    check_error_body(r, 400);
    BOOST_TEST(r.body.find("UTF-8") != std::string::npos, target);
  }
  client::reply q = ask_once(f.srv.port(), get("/echo/a?x=%ff"));
  check_error_body(q, 400);
  BOOST_TEST(q.body.find("query") != std::string::npos);
  BOOST_TEST(healthy(f.srv.port()));
  // Valid UTF-8 still routes, and a 404 quoting it is valid JSON.
  client::reply ok = ask_once(f.srv.port(), get("/echo/%c3%a9t%c3%a9"));
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.body == "/echo/\xc3\xa9t\xc3\xa9");
  check_error_body(ask_once(f.srv.port(), get("/nope/%e2%82%ac%22%5c")), 404);
}

BOOST_AUTO_TEST_CASE(error_bodies_never_throw_and_stay_json) {
  http::response r =
      http::response::error(404, "no route for /\xff\xfe\"\\\n\x01 \xe2\x82");
  json j = json::parse(r.body, nullptr, false);
  BOOST_TEST_REQUIRE(!j.is_discarded());
  BOOST_TEST(j["error"]["message"].get<std::string>() ==
             "no route for /\xef\xbf\xbd\xef\xbf\xbd\"\\\n\x01 "
             "\xef\xbf\xbd\xef\xbf\xbd");
  BOOST_TEST(j["error"]["reason"] == "Not Found");
}

BOOST_AUTO_TEST_CASE(utf8_validation_follows_rfc_3629) {
  using http::impl::valid_utf8;
  BOOST_TEST(valid_utf8("plain"));
  BOOST_TEST(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  BOOST_TEST(valid_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  BOOST_TEST(!valid_utf8("\xc0\x80"));          // overlong NUL
  BOOST_TEST(!valid_utf8("\xe0\x80\xaf"));      // overlong
  BOOST_TEST(!valid_utf8("\xed\xa0\x80"));      // a surrogate
  BOOST_TEST(!valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  BOOST_TEST(!valid_utf8("\xe2\x82"));          // truncated
  BOOST_TEST(!valid_utf8("\x80"));              // a lone continuation
  BOOST_TEST(!valid_utf8(std::string_view("\xf5\x80\x80\x80", 4)));
}

// --- protocol -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(versions_other_than_http_1_get_505) {
  edge_fixture f;
  for (const char* v : {"2.0", "9.9", "0.9"}) {
    client c(f.srv.port());
    c.send(get("/healthz", v));
    client::reply r = c.read_reply();
    check_error_body(r, 505);
    BOOST_TEST(c.closed_by_peer());
  }
  client::reply old = ask_once(f.srv.port(), get("/healthz", "1.0"));
  BOOST_TEST(old.status == 200);
  BOOST_TEST(healthy(f.srv.port()));
}

BOOST_AUTO_TEST_CASE(absolute_form_targets_are_accepted) {
  edge_fixture f;
  std::string host = "http://127.0.0.1:" + std::to_string(f.srv.port());
  BOOST_TEST(ask_once(f.srv.port(), get(host + "/healthz")).status == 200);
  client::reply e =
      ask_once(f.srv.port(), get("HTTP://example/echo/a%20b?x=1"));
  BOOST_TEST(e.status == 200);
  BOOST_TEST(e.body == "/echo/a b");
  // No path: "/", which has no route here.
  BOOST_TEST(ask_once(f.srv.port(), get(host)).status == 404);
  check_error_body(ask_once(f.srv.port(), get("ftp://x/healthz")), 400);
}

// --- failures contained ---------------------------------------------------

BOOST_AUTO_TEST_CASE(a_throwing_handler_is_a_500_reported_to_the_hook) {
  http::routes r;
  r.get("/boom", [](http::request&, http::responder) {
    throw std::runtime_error("handler bug");
  });
  edge_fixture f(std::move(r));
  check_error_body(ask_once(f.srv.port(), get("/boom")), 500);
  BOOST_TEST(f.log->has("/boom", "handler bug"));
  BOOST_TEST(f.srv.stats().failures >= 1u);
  BOOST_TEST(healthy(f.srv.port()));
}

BOOST_AUTO_TEST_CASE(throwing_hooks_do_not_end_the_process) {
  std::atomic<int> abandoned{0};
  std::atomic<int> ended{0};
  http::routes r;
  // A request that is never answered: its on_abandon throws.
  r.get("/hang", [&](http::request&, http::responder out) {
    out.on_abandon([&] {
      ++abandoned;
      throw std::runtime_error("abandon bug");
    });
  });
  // A stream whose on_drain and on_end throw.
  r.get("/stream", [&](http::request&, http::responder out) {
    http::stream_options o;
    o.on_drain = [] {
      throw std::runtime_error("drain bug");
    };
    o.on_end = [&](http::stream_end) {
      ++ended;
      throw std::runtime_error("end bug");
    };
    http::response head;
    head.headers.set("Content-Type", "text/event-stream");
    http::stream s = out.start_stream(std::move(head), std::move(o));
    s.write(std::string("data: one\n\n"));
  });
  edge_fixture f(std::move(r));
  {
    client c(f.srv.port());
    c.send(get("/hang"));
    // The request is in: wait for it to count, then leave.
    BOOST_TEST(courier::test::poll_until(
        [&] { return f.srv.stats().requests >= 1u; }, 10s));
  }
  {
    client c(f.srv.port());
    c.send(get("/stream"));
    BOOST_TEST(c.read_until([](const std::string& b) {
      return b.find("data: one\n\n") != std::string::npos;
    }));
    BOOST_TEST(courier::test::poll_until(
        [&] { return f.log->has("on_drain", "drain bug"); }, 10s));
  }
  BOOST_TEST(courier::test::poll_until(
      [&] { return abandoned == 1 && ended == 1; }, 10s));
  BOOST_TEST(courier::test::poll_until(
      [&] { return f.log->has("on_end", "end bug"); }, 10s));
  BOOST_TEST(f.log->has("on_abandon", "abandon bug"));
  BOOST_TEST(f.srv.stats().failures >= 3u);
  BOOST_TEST(healthy(f.srv.port()));
}

// --- bounded recursion ----------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_json_bounds_the_depth) {
  auto nested = [](std::size_t n) {
    return std::string(n, '[') + std::string(n, ']');
  };
  BOOST_TEST(!courier::parse_json(nested(64)).is_discarded());
  BOOST_TEST(courier::parse_json(nested(65)).is_discarded());
  BOOST_TEST(courier::parse_json(nested(100000)).is_discarded());
  BOOST_TEST(courier::parse_json(nested(3), 2).is_discarded());
  // Brackets inside strings do not count; escapes are skipped.
  BOOST_TEST(!courier::parse_json(R"({"a":"[[[[\"[[[["})", 1).is_discarded());
  BOOST_TEST(courier::parse_json("{\"a\":").is_discarded());
  BOOST_TEST(courier::parse_json("\"\xff\"").is_discarded());
  // nlohmann stops at a NUL byte; parse_json refuses the text instead.
  using namespace std::string_view_literals;
  BOOST_TEST(courier::parse_json("{\"a\":1}\0{{{not json"sv).is_discarded());
  BOOST_TEST(!courier::parse_json("{\"a\":\"\\u0000\"}").is_discarded());
  json deep = json::array();
  json* at = &deep;
  for (int i = 0; i < 10; ++i) {
    *at = json::array({json::object()});
    at = &(*at)[0];
  }
  BOOST_TEST(courier::json_depth_within(deep, 11));
  BOOST_TEST(!courier::json_depth_within(deep, 10));
  BOOST_TEST(courier::json_depth_within(json(5), 0));
}

namespace {

std::atomic<int> router_names{0};

struct push_fixture {
  courier::system sys{courier::system_config{.loops = 2}};
  courier::router rt;
  http::push push;
  http::server srv;

  explicit push_fixture(http::server_config scfg = {},
                        http::push_config pcfg = {},
                        courier::history_limits history = {}) {
    courier::router_config rc;
    rc.history = history;
    rc.loop = 1;
    rt = courier::router::named(
        sys, "hostile-" + std::to_string(router_names++), rc);
    scfg.loop = 0;
    pcfg.publish = true;
    http::routes r;
    push = http::push::mount(sys, scfg, r, rt, std::move(pcfg));
    srv = http::server::start(sys, scfg, std::move(r));
  }
  ~push_fixture() { srv.stop(); }

  std::string since_start() const { return rt.epoch() + "-0"; }
};

std::string publish(std::string_view subject, const std::string& body,
                    std::string_view type) {
  std::string req =
      "POST /publish/" + std::string(subject) +
      " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  if (!type.empty()) {
    req += "Content-Type: " + std::string(type) + "\r\n";
  }
  return req + "\r\n" + body;
}

}  // namespace

BOOST_AUTO_TEST_CASE(deeply_nested_json_never_overflows_the_stack) {
  push_fixture f;
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  // Declared JSON: refused.
  check_error_body(
      ask_once(f.srv.port(), publish("x", deep, "application/json")), 400);
  // Undeclared: kept as text, and replayed as a JSON string.
  BOOST_TEST(ask_once(f.srv.port(), publish("x", deep, "")).status == 202);
  // In-process payloads are not bounded at publish: the codec skips the
  // data of one too deep, and the event still goes out.
  json doc = json::array();
  json* at = &doc;
  for (int i = 0; i < 200000; ++i) {  // built in place: no deep copy
    at->push_back(json::array());
    at = &at->back();
  }
  f.rt.publish("x", std::move(doc));
  BOOST_TEST(ask_once(f.srv.port(), publish("x", "[[1]]", "")).status == 202);
  client::reply r = ask_once(
      f.srv.port(), get("/poll/x?since=" + f.since_start() + "&timeout=0"));
  BOOST_TEST_REQUIRE(r.status == 200);
  json body = json::parse(r.body);
  BOOST_TEST_REQUIRE(body["events"].size() == 3u);
  // Publishers on two threads: the router orders them as they arrive.
  int text = 0;
  int skipped = 0;
  int small = 0;
  for (const json& e : body["events"]) {
    const json& d = e["data"];
    text += d.is_string() && d.get<std::string>().size() == 200000u;
    skipped += d.is_null();
    small += d == json::parse("[[1]]");
  }
  BOOST_TEST(text == 1);
  BOOST_TEST(skipped == 1);
  BOOST_TEST(small == 1);
  // SSE replays them too.
  client s(f.srv.port());
  s.send(get("/sse/x?since=" + f.since_start()));
  BOOST_TEST(s.read_until([](const std::string& b) {
    return b.find("data: [[1]]\n") != std::string::npos;
  }));
  BOOST_TEST(healthy(f.srv.port()));
}

BOOST_AUTO_TEST_CASE(push_routes_answer_400_to_invalid_utf8) {
  push_fixture f;
  for (const char* target :
       {"/sse/%ff..x", "/poll/a.%c3%28", "/sse/ok?since=%ff"}) {
    check_error_body(ask_once(f.srv.port(), get(target)), 400);
  }
  check_error_body(
      ask_once(f.srv.port(), publish("%ff..", "{}", "application/json")), 400);
  BOOST_TEST(healthy(f.srv.port()));
}

// Found by the request fuzzer: a stream that a handler starts at once (its
// channel is known) begins inside the parse, and the parser went on to the
// next pipelined request, whose stream replaced the first on the
// connection; the first kept a pointer to it after it closed.
BOOST_AUTO_TEST_CASE(a_stream_started_inside_the_parse_ends_parsing) {
  push_fixture f;
  client known_a(f.srv.port());
  client known_b(f.srv.port());
  known_a.send(get("/sse/a"));
  known_b.send(get("/sse/b"));
  auto opened = [](const std::string& b) {
    return b.find(": courier\n") != std::string::npos;
  };
  BOOST_TEST_REQUIRE(known_a.read_until(opened));
  BOOST_TEST_REQUIRE(known_b.read_until(opened));
  for (int round = 0; round < 3; ++round) {
    client c(f.srv.port());
    c.send(get("/sse/a") + get("/sse/b"));
    BOOST_TEST_REQUIRE(c.read_until(opened));
    BOOST_TEST_REQUIRE(ask_once(f.srv.port(), publish("a", "1", "")).status ==
                       202);
    BOOST_TEST_REQUIRE(ask_once(f.srv.port(), publish("b", "2", "")).status ==
                       202);
    BOOST_TEST(c.read_until([](const std::string& b) {
      return b.find("data: 1\n") != std::string::npos;
    }));
    BOOST_TEST(known_b.read_until([round](const std::string& b) {
      std::size_t n = 0;
      for (std::size_t i = b.find("data: 2\n"); i != std::string::npos;
           i = b.find("data: 2\n", i + 1)) {
        ++n;
      }
      return n == static_cast<std::size_t>(round) + 1;
    }));
    // One head on the connection: the second request was never answered.
    std::string got = c.take();
    std::size_t heads = 0;
    for (std::size_t i = got.find("HTTP/1.1 "); i != std::string::npos;
         i = got.find("HTTP/1.1 ", i + 1)) {
      ++heads;
    }
    BOOST_TEST(heads == 1u);
    BOOST_TEST(got.find("data: 2\n") == std::string::npos);
    ::shutdown(c.fd(), SHUT_WR);  // the client leaves
  }
  BOOST_TEST(healthy(f.srv.port()));
}

// --- memory budgets -------------------------------------------------------

namespace {

// AddressSanitizer keeps freed memory in quarantine (256 MB by default):
// RSS bounds are checked in other builds only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_counts = false;
#else
constexpr bool rss_counts = true;
#endif

std::size_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoul(line.substr(6)) * 1024;
    }
  }
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pipelined_polls_that_never_read_stay_in_the_budget) {
  http::server_config scfg;
  scfg.max_write_buffer = 1 << 20;
  scfg.max_server_write_buffer = 8 << 20;
  http::push_config pcfg;
  pcfg.max_publish_bytes = 300 * 1024;
  push_fixture f(scfg, pcfg);
  // 40 events of 250 KB in the history: every full poll is ~10 MB.
  std::string big(250 * 1024, 'x');
  for (int i = 0; i < 40; ++i) {
    BOOST_TEST_REQUIRE(
        ask_once(f.srv.port(), publish("x", big, "text/plain")).status == 202);
  }
  std::size_t rss_before = rss_bytes();
  // Fewer under the sanitizers (COURIER_TEST_SCALE): 4 x 8 full polls are
  // still four times the budget.
  const auto pipelined = static_cast<int>(courier::test::scaled(64, 8));
  std::string polls;
  for (int i = 0; i < pipelined; ++i) {
    polls += get("/poll/x?since=" + f.since_start() + "&max=1000&timeout=0");
  }
  std::vector<std::unique_ptr<client>> readers;
  for (int i = 0; i < 4; ++i) {
    readers.push_back(std::make_unique<client>(f.srv.port(), 4096));
    BOOST_TEST_REQUIRE(readers.back()->ok());
    readers.back()->send(polls);
  }
  // Every connection's first answers are built, then it waits: the server
  // answers past its budget with 503s, or stops reading.
  std::size_t most = 0;
  bool settled = courier::test::poll_until(
      [&] {
        http::server_stats st = f.srv.stats();
        most = std::max<std::size_t>(most, st.unwritten_bytes);
        return st.over_budget > 0 && st.requests >= 4;
      },
      20s);
  BOOST_TEST(settled);
  // A poll answer holds ~1 MB (max_poll_bytes); what is not written stays
  // within the server's budget plus one answer.
  BOOST_TEST(most <= scfg.max_server_write_buffer + (2u << 20));
  BOOST_TEST(healthy(f.srv.port()));
  http::server_stats st = f.srv.stats();
  BOOST_TEST(st.unwritten_bytes <= scfg.max_server_write_buffer + (2u << 20));
  // 4 x 64 answers of ~1 MB (~10 MB each before the poll cap) are not all
  // held at once.
  BOOST_TEST((!rss_counts || rss_bytes() < rss_before + (64u << 20)),
             "most " << most << " requests " << st.requests << " over "
                     << st.over_budget);
  // The readers read again: each gets its answers in order, 200 or 503,
  // until all 64 are in or the server cut it (its first answer did not
  // fit while the server was full); the budget then empties.
  for (auto& c : readers) {
    int answered = 0;
    for (int i = 0; i < pipelined; ++i) {
      client::reply r = c->read_reply(false, 20s);
      if (!r.complete) {
        break;
      }
      BOOST_TEST((r.status == 200 || r.status == 503));
      ++answered;
    }
    BOOST_TEST((answered == pipelined || c->closed()));
  }
  BOOST_TEST(courier::test::poll_until(
      [&] { return f.srv.stats().unwritten_bytes == 0; }, 10s));
}

BOOST_AUTO_TEST_CASE(streams_replaying_one_history_share_its_frames) {
  push_fixture f;
  std::string big(250 * 1024, 'z');
  for (int i = 0; i < 40; ++i) {
    BOOST_TEST_REQUIRE(
        ask_once(f.srv.port(), publish("x", big, "text/plain")).status == 202);
  }
  std::size_t rss_before = rss_bytes();
  // 200 streams replay 10 MB each and never read. Once the kernel's
  // buffers are full each holds ~0.5 MB of frames (max_stream_buffer / 2):
  // ~100 MB if each stream encoded its own, one history if they share.
  const std::uint64_t n = courier::test::scaled(200, 20);
  std::vector<std::unique_ptr<client>> streams;
  for (std::uint64_t i = 0; i < n; ++i) {
    streams.push_back(std::make_unique<client>(f.srv.port(), 4096));
    BOOST_TEST_REQUIRE(streams.back()->ok());
    streams.back()->send(get("/sse/x?since=" + f.since_start()));
  }
  // Wait until the replays stall on the full sockets: no event written
  // for 300 ms.
  std::uint64_t last = 0;
  auto since = std::chrono::steady_clock::now();
  BOOST_TEST(courier::test::poll_until(
      [&] {
        std::uint64_t now = f.push.stats().events_written;
        if (now != last) {
          last = now;
          since = std::chrono::steady_clock::now();
        }
        return now >= n * 3 && std::chrono::steady_clock::now() - since > 300ms;
      },
      30s));
  std::size_t grown = rss_bytes() - std::min(rss_bytes(), rss_before);
  BOOST_TEST((!rss_counts || grown < (40u << 20)), "RSS grew by " << grown);
  BOOST_TEST(healthy(f.srv.port()));
}

BOOST_AUTO_TEST_CASE(poll_answers_stop_at_max_poll_bytes_and_resume) {
  http::push_config pcfg;
  pcfg.max_poll_bytes = 64 * 1024;
  push_fixture f({}, pcfg);
  std::string chunk(20 * 1024, 'y');
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST_REQUIRE(
        ask_once(f.srv.port(), publish("x", chunk, "text/plain")).status ==
        202);
  }
  std::string since = f.since_start();
  std::size_t seen = 0;
  int polls = 0;
  while (seen < 10 && polls < 20) {
    client::reply r = ask_once(
        f.srv.port(), get("/poll/x?since=" + since + "&timeout=0&max=1000"));
    BOOST_TEST_REQUIRE(r.status == 200);
    json body = json::parse(r.body);
    BOOST_TEST(r.body.size() < pcfg.max_poll_bytes + chunk.size() + 1024);
    BOOST_TEST(!body["events"].empty());
    seen += body["events"].size();
    since = body["next"].get<std::string>();
    ++polls;
  }
  BOOST_TEST(seen == 10u);
  BOOST_TEST(polls >= 3);
}
