// Fuzzes JSON request bodies as the edge and the dashboard read them:
// courier::parse_json (a depth limit in front of nlohmann::json::parse),
// then the dashboard's checks of POST /orders and POST /reports (a copy,
// see dashboard_bodies.hpp) and the conversions they guard. Properties:
// parse and accept agree; parse_json gives what parse gives when the
// text is within the limit, and nothing deeper; the depth of the text
// and of its document agree; a parsed body dumps (as the push codec
// sends it) to text that parses back equal, and the edge's own writer
// (impl::dump_json) gives the same text; a body the checks pass converts
// without throwing into a valid order, which round-trips through the
// sample's to_json and from_json.

#include "courier/http.hpp"
#include "courier/json.hpp"

#include "dashboard_bodies.hpp"
#include "fuzz_check.hpp"
#include "http/http_impl.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using json = nlohmann::json;
using courier::fuzz::order_error;
using courier::fuzz::report_error;

void check_dump(const json& body) {
  std::string text = body.dump();
  COURIER_FUZZ_CHECK(json::parse(text) == body);
  std::string ascii = body.dump(-1, ' ', true);
  COURIER_FUZZ_CHECK(json::parse(ascii) == body);
  // The edge's own writer (ask routes' replies): the same text as dump().
  std::string edge_text = "x";
  courier::http::impl::dump_json(edge_text, body);
  COURIER_FUZZ_CHECK(edge_text == "x" + text);
}

void check_order(const json& body) {
  if (order_error(body)) {
    return;
  }
  dashboard::create_order c = courier::fuzz::to_create_order(body);
  COURIER_FUZZ_CHECK(dashboard::item_error(c.item) == nullptr);
  COURIER_FUZZ_CHECK(!c.item.empty() && c.item.size() <= 64);
  COURIER_FUZZ_CHECK(c.quantity >= 1 && c.quantity <= 1000);
  dashboard::order o{1, c.item, c.quantity, "created"};
  COURIER_FUZZ_CHECK(json(o).get<dashboard::order>().item == o.item);
  COURIER_FUZZ_CHECK(
      json::parse(json(o).dump()).get<dashboard::order>().quantity ==
      o.quantity);
}

void check_report(const json& body) {
  if (report_error(body)) {
    return;
  }
  std::string kind = body.value("kind", "sales");
  std::string callback = body.value("callback", "");
  COURIER_FUZZ_CHECK(kind == "sales");
  COURIER_FUZZ_CHECK(callback.empty() || callback.starts_with("http://"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  json raw = json::parse(in, nullptr, false);
  COURIER_FUZZ_CHECK(json::accept(in) == !raw.is_discarded());
  json body = courier::parse_json(in);
  std::size_t limit = courier::default_max_json_depth;
  if (!raw.is_discarded()) {
    // nlohmann's lexer takes a NUL byte for the end of the input: what
    // follows one is never parsed. parse_json refuses any NUL.
    std::string_view text = in.substr(0, in.find('\0'));
    bool within =
        text.size() == in.size() && courier::json_depth_within(in, limit);
    COURIER_FUZZ_CHECK(courier::json_depth_within(text, limit) ==
                       courier::json_depth_within(raw, limit));
    COURIER_FUZZ_CHECK(courier::json_depth_within(text, 3) ==
                       courier::json_depth_within(raw, 3));
    COURIER_FUZZ_CHECK(body.is_discarded() == !within);
    if (within) {
      COURIER_FUZZ_CHECK(body == raw);
      check_dump(body);
    }
  } else {
    COURIER_FUZZ_CHECK(body.is_discarded());
  }
  check_order(body);
  check_report(in.empty() ? json::object() : body);
  return 0;
}
