// Fuzzes the SSE framing (courier/sse.hpp). The first byte picks:
//  0: the encoder: [event length][id length] event id data; an event or
//     id with CR, LF or NUL is refused, anything else parses back to the
//     same event (line breaks in data become LF), byte by byte too; a
//     comment parses to nothing.
//  1: the parser, as the SSE reader feeds it: a stream whose second byte
//     seeds the chunk sizes; fed whole, byte by byte and in those chunks
//     it gives the same events, last id, retry and line-limit failure.

#include "courier/sse.hpp"

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = courier::http;

struct outcome {
  std::vector<http::sse_event> events;
  std::string last_id;
  std::optional<long long> retry;
  bool ok = true;

  bool operator==(const outcome& o) const {
    if (events.size() != o.events.size() || last_id != o.last_id ||
        retry != o.retry || ok != o.ok) {
      return false;
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      const http::sse_event& a = events[i];
      const http::sse_event& b = o.events[i];
      if (a.type != b.type || a.data != b.data || a.id != b.id) {
        return false;
      }
    }
    return true;
  }
};

// Feeds `stream` in chunks of chunk(i) bytes (0: all at once) until the
// end or the first failure.
template <class Chunk>
outcome parse(std::string_view stream, std::size_t max_line, Chunk chunk) {
  http::sse_parser p(max_line);
  outcome o;
  for (std::size_t i = 0; !stream.empty() && o.ok; ++i) {
    std::size_t n = chunk(i);
    n = n == 0 || n > stream.size() ? stream.size() : n;
    o.ok = p.feed(stream.substr(0, n),
                  [&](http::sse_event e) { o.events.push_back(std::move(e)); });
    stream.remove_prefix(n);
  }
  o.last_id = p.last_id();
  o.retry = p.retry();
  return o;
}

std::string lf_lines(std::string_view data) {
  std::string out;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\r') {
      out += '\n';
      if (i + 1 < data.size() && data[i + 1] == '\n') {
        ++i;
      }
    } else {
      out += data[i];
    }
  }
  return out;
}

void fuzz_encoder(std::string_view in) {
  if (in.size() < 2) {
    return;
  }
  std::size_t event_len = static_cast<unsigned char>(in[0]) % 32;
  std::size_t id_len = static_cast<unsigned char>(in[1]) % 32;
  in.remove_prefix(2);
  std::string_view event = in.substr(0, event_len);
  in.remove_prefix(event.size());
  std::string_view id = in.substr(0, id_len);
  in.remove_prefix(id.size());
  std::string_view data = in;

  bool refused = (!event.empty() && http::sse_field_error(event) != nullptr) ||
                 (!id.empty() && http::sse_field_error(id) != nullptr);
  std::string wire;
  try {
    wire = http::sse_encode(data, event, id);
  } catch (const std::invalid_argument&) {
    COURIER_FUZZ_CHECK(refused);
    return;
  }
  COURIER_FUZZ_CHECK(!refused);
  outcome whole = parse(wire, 1 << 20, [](std::size_t) { return 0; });
  COURIER_FUZZ_CHECK(whole.ok && whole.events.size() == 1);
  const http::sse_event& e = whole.events[0];
  COURIER_FUZZ_CHECK(e.type == (event.empty() ? "message" : event));
  COURIER_FUZZ_CHECK(e.data == lf_lines(data));
  COURIER_FUZZ_CHECK(e.id == id);
  COURIER_FUZZ_CHECK(!whole.retry);
  COURIER_FUZZ_CHECK(parse(wire, 1 << 20, [](std::size_t) { return 1; }) ==
                     whole);
  // Two events and a comment in one stream: the comment is not an event.
  std::string two = wire + http::sse_comment(data) + wire;
  outcome both = parse(two, 1 << 20, [](std::size_t) { return 0; });
  COURIER_FUZZ_CHECK(both.ok && both.events.size() == 2);
  COURIER_FUZZ_CHECK(both.events[1].data == e.data);
  COURIER_FUZZ_CHECK(parse(http::sse_comment(data), 1 << 20, [](std::size_t) {
                       return 0;
                     }).events.empty());
}

void fuzz_parser(std::string_view in) {
  if (in.empty()) {
    return;
  }
  auto seed = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  // A small line limit, so that the failure path is reached too.
  std::size_t max_line = 16 + seed % 64;
  outcome whole = parse(in, max_line, [](std::size_t) { return 0; });
  outcome bytes = parse(in, max_line, [](std::size_t) { return 1; });
  outcome chunks = parse(in, max_line, [seed](std::size_t i) {
    return 1 + (seed * 31 + i * 7) % 13;
  });
  COURIER_FUZZ_CHECK(whole == bytes);
  COURIER_FUZZ_CHECK(whole == chunks);
  for (const http::sse_event& e : whole.events) {
    COURIER_FUZZ_CHECK(!e.type.empty());
    COURIER_FUZZ_CHECK(e.id.find('\0') == std::string::npos);
  }
  if (whole.retry) {
    COURIER_FUZZ_CHECK(*whole.retry >= 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzz_encoder(in);
  } else {
    fuzz_parser(in);
  }
  return 0;
}
