// Tests of the SSE framing: the WHATWG examples, line endings split
// across chunks, the BOM, field rules, and a round-trip property test of
// the encoder against the parser for random payloads with CR, LF, NUL,
// leading spaces and non-ASCII bytes, fed in random chunkings.
#define BOOST_TEST_MODULE sse
#include "courier/sse.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace http = courier::http;

std::vector<http::sse_event> parse_all(std::string_view stream,
                                       std::size_t chunk = 0) {
  http::sse_parser p;
  std::vector<http::sse_event> out;
  auto on = [&out](http::sse_event e) {
    out.push_back(std::move(e));
  };
  if (chunk == 0) {
    BOOST_REQUIRE(p.feed(stream, on));
  } else {
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      BOOST_REQUIRE(p.feed(stream.substr(i, chunk), on));
    }
  }
  return out;
}

// The payload as a parser gives it back: CRLF and lone CR become LF.
std::string normalized(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') {
        ++i;
      }
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(whatwg_examples) {
  auto a = parse_all("data: YHOO\ndata: +2\ndata: 10\n\n");
  BOOST_REQUIRE(a.size() == 1u);
  BOOST_TEST(a[0].data == "YHOO\n+2\n10");
  BOOST_TEST(a[0].type == "message");

  auto b = parse_all(
      ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
      "data:  third event\n\n");
  BOOST_REQUIRE(b.size() == 3u);
  BOOST_TEST(b[0].data == "first event");
  BOOST_TEST(b[0].id == "1");
  BOOST_TEST(b[1].data == "second event");
  BOOST_TEST(b[1].id == "");                // an empty id resets it
  BOOST_TEST(b[2].data == " third event");  // only one space is removed

  auto c = parse_all("data\n\ndata\ndata\n\ndata:");
  BOOST_REQUIRE(c.size() == 2u);  // the last one never ended
  BOOST_TEST(c[0].data == "");
  BOOST_TEST(c[1].data == "\n");

  auto d = parse_all("data:test\n\ndata: test\n\n");
  BOOST_REQUIRE(d.size() == 2u);
  BOOST_TEST(d[0].data == "test");
  BOOST_TEST(d[1].data == "test");
}

BOOST_AUTO_TEST_CASE(line_endings_bom_and_fields) {
  for (std::size_t chunk : {0u, 1u, 2u, 3u}) {
    auto e = parse_all(
        "\xEF\xBB\xBF"
        "event: add\r\ndata: a\rdata: b\r\n\r\n"
        "id: 7\rretry: 2500\r\r",
        chunk);
    BOOST_TEST_CONTEXT("chunk " << chunk) {
      BOOST_REQUIRE(e.size() == 1u);
      BOOST_TEST(e[0].type == "add");
      BOOST_TEST(e[0].data == "a\nb");
    }
  }
  http::sse_parser p;
  std::vector<http::sse_event> got;
  auto on = [&got](http::sse_event e) {
    got.push_back(std::move(e));
  };
  BOOST_REQUIRE(p.feed(std::string("id: 1\0x\nretry: 12a\nretry: 300\n", 30) +
                           "event: only-type\n\n",
                       on));
  BOOST_TEST(got.empty());        // no data line: nothing dispatched
  BOOST_TEST(p.last_id() == "");  // the id with a NUL was ignored
  BOOST_REQUIRE(p.retry().has_value());
  BOOST_TEST(*p.retry() == 300);  // "12a" was ignored
  BOOST_REQUIRE(p.feed("id: 41\ndata: x\n\ndata: y\n\n", on));
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].type == "message");  // the type did not leak
  BOOST_TEST(got[1].id == "41");         // the id persists
  http::sse_parser small(8);
  BOOST_TEST(!small.feed("data: this line is too long\n\n", on));
}

BOOST_AUTO_TEST_CASE(the_encoder_follows_the_rules) {
  BOOST_TEST(http::sse_encode("hello", "orders.created", "k3f9-7") ==
             "id: k3f9-7\nevent: orders.created\ndata: hello\n\n");
  BOOST_TEST(http::sse_encode("a\r\nb\rc\nd") ==
             "data: a\ndata: b\ndata: c\ndata: d\n\n");
  BOOST_TEST(http::sse_encode("") == "data: \n\n");
  BOOST_CHECK_THROW(http::sse_encode("x", "bad\nname"), std::invalid_argument);
  BOOST_CHECK_THROW(http::sse_encode("x", {}, std::string("1\0", 2)),
                    std::invalid_argument);
  BOOST_TEST(http::sse_comment("hb\nx") == ": hb x\n\n");
  BOOST_TEST(parse_all(http::sse_comment("heartbeat")).empty());
}

// encode -> parse gives the payload back (with LF line breaks), whatever
// the payload and however the stream is cut.
BOOST_AUTO_TEST_CASE(round_trip_property) {
  std::mt19937 rng(20261128);
  const std::string alphabet[] = {"a",    "Z",      " ",  "\r", "\n",
                                  "\r\n", ":",      "\0", "é",  "€",
                                  "😀",    "data: ", "\t", "id", "\xEF\xBB\xBF"};
  for (int round = 0; round < 2000; ++round) {
    std::string payload;
    int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) {
      const std::string& piece = alphabet[rng() % std::size(alphabet)];
      payload += piece == std::string("\0", 0) ? std::string(1, '\0') : piece;
    }
    if (rng() % 7 == 0) {
      payload.push_back('\0');
    }
    std::string id = "id-" + std::to_string(round);
    std::string stream = http::sse_encode(payload, "t", id) +
                         http::sse_comment("hb") + http::sse_encode(payload);
    std::size_t chunk = 1 + rng() % 9;
    auto events = parse_all(stream, rng() % 3 == 0 ? 0 : chunk);
    BOOST_REQUIRE(events.size() == 2u);
    if (events[0].data != normalized(payload) ||
        events[1].data != normalized(payload) || events[0].type != "t" ||
        events[0].id != id || events[1].id != id) {
      BOOST_FAIL("round " << round << " chunk " << chunk);
    }
  }
}
