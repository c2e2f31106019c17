#pragma once

// Internals of the HTTP edge shared by its source files.

#include "courier/http.hpp"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier::http::impl {

std::string_view reason(int status) noexcept;

/// The length of the longest valid UTF-8 prefix of `s` (RFC 3629).
std::size_t utf8_prefix(std::string_view s) noexcept;
bool valid_utf8(std::string_view s) noexcept;

/// Appends `s` as a JSON string literal; bytes that are not UTF-8 become
/// U+FFFD (never throws on content).
void append_json_string(std::string& out, std::string_view s);

/// Decodes %XX escapes (and '+' as a space when `plus_space`); false on a
/// malformed escape or an encoded NUL.
bool percent_decode(std::string_view in, std::string& out, bool plus_space);

/// Splits and decodes a query string; false when malformed.
bool parse_query(std::string_view q,
                 std::vector<std::pair<std::string, std::string>>& out);

struct route_match {
  const routes::entry* entry = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  /// Methods of routes whose path matched with another method (for 405).
  std::vector<std::string> allowed;
};

/// The route for method + decoded path (HEAD falls back to GET).
route_match match_route(const routes& table, std::string_view method,
                        std::string_view path);

/// The IMF-fixdate of now, cached per second (per thread).
const std::string& http_date();

bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// ASCII case-insensitive equality (header names).
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Appends j.dump() to `out` without the temporary string and output
/// adapter that json::dump allocates per call. Throws as dump() does
/// (invalid UTF-8).
void dump_json(std::string& out, const nlohmann::json& j);

/// Builds headers from http_parser's field and value callbacks, which may
/// deliver a name or a value in several pieces.
struct header_builder {
  std::string field;
  bool last_was_value = false;

  void on_field(std::string_view piece) {
    if (last_was_value) {
      field.clear();
      last_was_value = false;
    }
    field.append(piece);
  }
  void on_value(http::headers& h, std::string_view piece) {
    if (!last_was_value) {
      h.add(field, {});
      last_was_value = true;
    }
    auto& fields =
        const_cast<std::vector<std::pair<std::string, std::string>>&>(
            h.fields());
    fields.back().second.append(piece);
  }
  void reset() {
    field.clear();
    last_was_value = false;
  }
};

/// Resolves host:port with uv_getaddrinfo on `uv`; done(status, address)
/// runs on that loop (address null and status a uv error on failure)
/// unless `alive` expired first (its owner is gone). Returns a uv error
/// when the lookup cannot start; done() is then not called.
int resolve(uv_loop_t* uv, const std::string& host, std::uint16_t port,
            std::weak_ptr<void> alive,
            std::function<void(int status, const sockaddr* address)> done);

/// The parts of an http:// URL.
struct url_parts {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";
  std::string key() const { return host + ":" + std::to_string(port); }
};

/// Splits http://host[:port][/path][?query]; false when it is not one.
bool parse_url(std::string_view url, url_parts& out);

}  // namespace courier::http::impl
