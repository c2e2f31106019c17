// Fuzzes the edge's text helpers for targets (lib/http/http_impl.hpp):
// percent_decode, parse_query, match_route and parse_url. The first byte
// (mod 5) picks one; the rest is its input. Properties: no NUL is
// decoded, a decoded string re-encodes to itself, a query has no more
// pairs than pieces, and match_route agrees with a plain reference
// matcher, whose params rebuild the path.

#include "courier/http.hpp"

#include "fuzz_check.hpp"
#include "http/http_impl.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace http = courier::http;
namespace impl = courier::http::impl;
using courier::fuzz::split;

void fuzz_percent_decode(std::string_view in, bool plus_space) {
  std::string out;
  if (!impl::percent_decode(in, out, plus_space)) {
    return;
  }
  // No NUL is decoded (a literal one is the caller's to refuse).
  COURIER_FUZZ_CHECK(in.find('\0') != std::string_view::npos ||
                     out.find('\0') == std::string::npos);
  COURIER_FUZZ_CHECK(out.size() <= in.size());
  if (in.find('%') == std::string_view::npos &&
      (!plus_space || in.find('+') == std::string_view::npos)) {
    COURIER_FUZZ_CHECK(out == in);
  }
  if (out.find('\0') != std::string::npos) {
    return;
  }
  std::string encoded;
  for (unsigned char c : out) {
    constexpr char hex[] = "0123456789ABCDEF";
    encoded += '%';
    encoded += hex[c >> 4];
    encoded += hex[c & 15];
  }
  std::string again;
  COURIER_FUZZ_CHECK(impl::percent_decode(encoded, again, plus_space));
  COURIER_FUZZ_CHECK(again == out);
}

void fuzz_parse_query(std::string_view in) {
  std::vector<std::pair<std::string, std::string>> q;
  if (!impl::parse_query(in, q)) {
    return;
  }
  COURIER_FUZZ_CHECK(q.size() <= split(in, '&', in.size() + 1).size());
  if (in.find('\0') == std::string_view::npos) {
    for (const auto& [k, v] : q) {
      COURIER_FUZZ_CHECK(k.find('\0') == std::string::npos);
      COURIER_FUZZ_CHECK(v.find('\0') == std::string::npos);
    }
  }
  http::request req;
  req.query = q;
  if (!q.empty()) {
    COURIER_FUZZ_CHECK(req.query_param(q.front().first) == q.front().second);
  }
}

// --- match_route against a reference

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::string_view s : split(path, '/', path.size() + 1)) {
    if (!s.empty()) {
      out.push_back(s);
    }
  }
  return out;
}

bool is_var(const std::string& p) {
  return p.size() > 2 && p.front() == '{' && p.back() == '}';
}
bool is_tail(const std::string& p) {
  return is_var(p) && p.size() > 3 && p[p.size() - 2] == '*';
}

bool reference_match(const http::routes::entry& e,
                     const std::vector<std::string_view>& segs) {
  std::size_t i = 0;
  for (; i < e.segments.size(); ++i) {
    if (is_tail(e.segments[i])) {
      return true;
    }
    if (i >= segs.size() ||
        (!is_var(e.segments[i]) && e.segments[i] != segs[i])) {
      return false;
    }
  }
  return i == segs.size();
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!p.empty()) {
      out += '/';
      out += p;
    }
  }
  return out;
}

// Input: method, path, then one route a line: a method letter and a
// pattern.
void fuzz_match_route(std::string_view in) {
  static constexpr std::string_view methods[] = {"GET", "POST", "PUT", "DELETE",
                                                 "HEAD"};
  std::vector<std::string_view> lines = split(in, '\n', 12);
  if (lines.size() < 2) {
    return;
  }
  std::string_view method = lines[0];
  std::string_view path = lines[1];
  http::routes table;
  for (std::size_t i = 2; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.empty()) {
      continue;
    }
    std::string_view m = methods[static_cast<unsigned char>(l[0]) % 5];
    try {
      table.add(m, l.substr(1),
                [](const http::request&) { return http::response{}; });
    } catch (const std::invalid_argument&) {
      // a {name*} that is not last: refused, as documented
    }
  }
  impl::route_match m = impl::match_route(table, method, path);
  std::vector<std::string_view> segs = segments(path);
  const http::routes::entry* want = nullptr;
  std::vector<std::string> allowed;
  for (const http::routes::entry& e : table.entries()) {
    if (!reference_match(e, segs)) {
      continue;
    }
    if (e.method == method) {
      want = &e;
      break;
    }
    if (method == "HEAD" && e.method == "GET") {
      want = want != nullptr ? want : &e;
    } else if (std::find(allowed.begin(), allowed.end(), e.method) ==
               allowed.end()) {
      allowed.push_back(e.method);
    }
  }
  COURIER_FUZZ_CHECK(m.entry == want);
  if (m.entry == nullptr) {
    COURIER_FUZZ_CHECK(m.allowed == allowed);
    return;
  }
  // The params put back into the pattern give the path.
  std::vector<std::string> rebuilt;
  std::size_t next = 0;
  for (const std::string& p : m.entry->segments) {
    if (!is_var(p)) {
      rebuilt.push_back(p);
      continue;
    }
    COURIER_FUZZ_CHECK(next < m.params.size());
    const auto& [name, value] = m.params[next++];
    COURIER_FUZZ_CHECK(name == p.substr(1, p.size() - (is_tail(p) ? 3 : 2)));
    COURIER_FUZZ_CHECK(is_tail(p) || !value.empty());
    rebuilt.push_back(value);
  }
  COURIER_FUZZ_CHECK(next == m.params.size());
  std::vector<std::string> path_parts(segs.begin(), segs.end());
  COURIER_FUZZ_CHECK(join(rebuilt) == join(path_parts));
}

void fuzz_parse_url(std::string_view in) {
  impl::url_parts u;
  if (!impl::parse_url(in, u)) {
    return;
  }
  COURIER_FUZZ_CHECK(!u.host.empty());
  COURIER_FUZZ_CHECK(u.host.find('@') == std::string::npos);
  COURIER_FUZZ_CHECK(u.port >= 1);
  COURIER_FUZZ_CHECK(!u.target.empty() && u.target.front() == '/');
  COURIER_FUZZ_CHECK(in.starts_with("http://" + u.host));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      fuzz_percent_decode(in, false);
      break;
    case 1:
      fuzz_percent_decode(in, true);
      break;
    case 2:
      fuzz_parse_query(in);
      break;
    case 3:
      fuzz_match_route(in);
      break;
    default:
      fuzz_parse_url(in);
      break;
  }
  return 0;
}
