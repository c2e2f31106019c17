// Requests, responses, headers, routes and the text helpers of the HTTP
// edge (percent-decoding, query strings, status reasons, dates).

#include "http_impl.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace courier::http {

using impl::iequals;

const std::string* headers::find(std::string_view name) const noexcept {
  for (const auto& [k, v] : fields_) {
    if (iequals(k, name)) {
      return &v;
    }
  }
  return nullptr;
}

std::string_view headers::get(std::string_view name) const noexcept {
  const std::string* v = find(name);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

void headers::set(std::string_view name, std::string_view value) {
  std::erase_if(fields_, [&](const auto& f) { return iequals(f.first, name); });
  add(name, value);
}

void headers::add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

std::optional<std::string> request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) {
      return v;
    }
  }
  return std::nullopt;
}

std::string_view request::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : params) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

response response::text(int status, std::string body,
                        std::string_view content_type) {
  response r;
  r.status = status;
  r.headers.set("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

response response::json(int status, const nlohmann::json& body) {
  response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  impl::dump_json(r.body, body);
  return r;
}

response response::error(int status, std::string_view message) noexcept {
  // Written by hand, not through nlohmann: the message may quote client
  // input (a path, a subject), and an error body must never throw.
  response r;
  try {
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    std::string& b = r.body;
    b.reserve(64 + message.size());
    // The keys in nlohmann's order (sorted), as before.
    b += "{\"error\":{\"message\":";
    impl::append_json_string(b, message);
    b += ",\"reason\":";
    impl::append_json_string(b, impl::reason(status));
    b += ",\"status\":";
    b += std::to_string(status);
    b += "}}";
  } catch (...) {
    // Out of memory: an empty error is still an answer.
    r.body.clear();
  }
  return r;
}

response error_response(const ask_error& e, bool expose_detail) {
  switch (e.value()) {
    case errc::ask_timeout:
      return response::error(504,
                             "the actor behind this route did not "
                             "answer in time");
    case errc::target_dead:
    case errc::system_stopped:
      return response::error(503,
                             "the actor behind this route is not "
                             "available");
    default:
      return response::error(
          500, expose_detail ? std::string("the request failed: ") + e.what()
                             : std::string("the request failed"));
  }
}

namespace {

// Calls on_segment(view) for each non-empty segment of a path.
template <class F>
void for_each_segment(std::string_view path, F&& on_segment) {
  for (std::size_t i = 0; i < path.size();) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    on_segment(path.substr(i, j - i));
    i = j;
  }
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  for_each_segment(path,
                   [&out](std::string_view seg) { out.emplace_back(seg); });
  return out;
}

}  // namespace

routes& routes::add(std::string_view method, std::string_view pattern,
                    handler h) {
  entry e;
  e.method.assign(method);
  e.pattern.assign(pattern);
  e.segments = split_path(pattern);
  for (std::size_t i = 0; i < e.segments.size(); ++i) {
    const std::string& s = e.segments[i];
    bool tail = s.size() > 3 && s.front() == '{' && s.ends_with("*}");
    if (tail && i + 1 != e.segments.size()) {
      throw std::invalid_argument(
          "courier::http: a {name*} segment must be "
          "last in \"" +
          e.pattern + "\"");
    }
  }
  e.h = std::move(h);
  entries_.push_back(std::move(e));
  return *this;
}

routes& routes::add(std::string_view method, std::string_view pattern,
                    std::function<response(const request&)> f) {
  return add(method, pattern,
             handler([f = std::move(f)](request& req, responder out) {
               out.send(f(req));
             }));
}

routes& routes::protect(std::string_view prefix, std::string token) {
  for (entry& e : entries_) {
    if (std::string_view(e.pattern).starts_with(prefix)) {
      e.bearer = token;
    }
  }
  return *this;
}

namespace impl {

std::string_view reason(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::size_t utf8_prefix(std::string_view s) noexcept {
  // RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      lo = c == 0xE0 ? 0xA0 : 0x80;
      hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      lo = c == 0xF0 ? 0x90 : 0x80;
      hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return i;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) {
      return i;
    }
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
        return i;
      }
    }
    i += len;
  }
  return n;
}

bool valid_utf8(std::string_view s) noexcept {
  return utf8_prefix(s) == s.size();
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  while (!s.empty()) {
    std::size_t ok = utf8_prefix(s);
    for (std::size_t i = 0; i < ok; ++i) {
      char c = s[i];
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            out += "\\u00";
            out.push_back(hex[(c >> 4) & 0xf]);
            out.push_back(hex[c & 0xf]);
          } else {
            out.push_back(c);
          }
      }
    }
    s.remove_prefix(ok);
    if (!s.empty()) {
      out += "\\ufffd";  // an invalid byte: U+FFFD, as browsers show it
      s.remove_prefix(1);
    }
  }
  out.push_back('"');
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;  // a truncated escape
      }
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return false;
      }
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '\0') {
        return false;  // no NUL bytes in paths or parameters
      }
      out.push_back(d);
      i += 2;
    } else if (c == '+' && plus_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_query(std::string_view q,
                 std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t i = 0;
  while (i <= q.size() && !q.empty()) {
    std::size_t amp = q.find('&', i);
    if (amp == std::string_view::npos) {
      amp = q.size();
    }
    std::string_view part = q.substr(i, amp - i);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      std::string k;
      std::string v;
      if (!percent_decode(part.substr(0, eq), k, true) ||
          (eq != std::string_view::npos &&
           !percent_decode(part.substr(eq + 1), v, true))) {
        return false;
      }
      out.emplace_back(std::move(k), std::move(v));
    }
    if (amp == q.size()) {
      break;
    }
    i = amp + 1;
  }
  return true;
}

route_match match_route(const routes& table, std::string_view method,
                        std::string_view path) {
  route_match m;
  // The path's segments, as views (no allocation for up to 16).
  std::string_view inline_segs[16];
  std::vector<std::string_view> more;
  std::size_t count = 0;
  for_each_segment(path, [&](std::string_view seg) {
    if (count < 16) {
      inline_segs[count] = seg;
    } else {
      if (more.empty()) {
        more.assign(inline_segs, inline_segs + 16);
      }
      more.push_back(seg);
    }
    ++count;
  });
  const std::string_view* segs = more.empty() ? inline_segs : more.data();
  bool head = method == "HEAD";
  for (const routes::entry& e : table.entries()) {
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    std::size_t i = 0;
    for (; i < e.segments.size(); ++i) {
      const std::string& p = e.segments[i];
      bool var = p.size() > 2 && p.front() == '{' && p.back() == '}';
      if (var && p.size() > 3 && p[p.size() - 2] == '*') {
        std::string rest;
        for (std::size_t k = i; k < count; ++k) {
          if (k != i) {
            rest += '/';
          }
          rest += segs[k];
        }
        params.emplace_back(p.substr(1, p.size() - 3), std::move(rest));
        i = count;
        break;
      }
      if (i >= count) {
        ok = false;
        break;
      }
      if (var) {
        params.emplace_back(p.substr(1, p.size() - 2), std::string(segs[i]));
      } else if (p != segs[i]) {
        ok = false;
        break;
      }
    }
    if (!ok || i != count) {
      continue;
    }
    if (e.method == method || (head && e.method == "GET")) {
      if (m.entry == nullptr || e.method == method) {
        m.entry = &e;
        m.params = std::move(params);
        if (e.method == method) {
          return m;
        }
      }
      continue;
    }
    if (std::find(m.allowed.begin(), m.allowed.end(), e.method) ==
        m.allowed.end()) {
      m.allowed.push_back(e.method);
    }
  }
  return m;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

namespace {

// nlohmann's serializer writes through a shared output adapter;
// json::dump makes a new one and a new string per call. This one appends
// to a string the caller reuses, and is made once per thread.
class append_adapter final
    : public nlohmann::detail::output_adapter_protocol<char> {
 public:
  std::string* out = nullptr;
  void write_character(char c) override { out->push_back(c); }
  void write_characters(const char* s, std::size_t n) override {
    out->append(s, n);
  }
};

}  // namespace

void dump_json(std::string& out, const nlohmann::json& j) {
  // A serializer allocates a 512-byte indent string when it is made:
  // one per thread, reused, as is its adapter.
  thread_local auto adapter = std::make_shared<append_adapter>();
  thread_local nlohmann::detail::serializer<nlohmann::json> s(adapter, ' ');
  adapter->out = &out;
  s.dump(j, false, false, 0);
}

const std::string& http_date() {
  thread_local std::time_t cached_at = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::size_t n =
        std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached.assign(buf, n);
    cached_at = now;
  }
  return cached;
}

bool parse_url(std::string_view url, url_parts& out) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) {
    return false;
  }
  url.remove_prefix(scheme.size());
  std::size_t slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  out.target =
      slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (out.target.front() == '?') {
    out.target.insert(out.target.begin(), '/');
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return false;
  }
  std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.front() != '[') {
    std::string_view p = authority.substr(colon + 1);
    if (p.empty() || p.size() > 5 ||
        p.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    int port = std::stoi(std::string(p));
    if (port < 1 || port > 65535) {
      return false;
    }
    out.port = static_cast<std::uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  out.host.assign(authority);
  return !out.host.empty();
}

namespace {

struct lookup {
  uv_getaddrinfo_t req{};
  std::weak_ptr<void> alive;
  std::function<void(int, const sockaddr*)> done;
};

}  // namespace

int resolve(uv_loop_t* uv, const std::string& host, std::uint16_t port,
            std::weak_ptr<void> alive,
            std::function<void(int status, const sockaddr* address)> done) {
  auto* l = new lookup;
  l->alive = std::move(alive);
  l->done = std::move(done);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(
      uv, &l->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        std::unique_ptr<lookup> owned(reinterpret_cast<lookup*>(req));
        std::unique_ptr<addrinfo, void (*)(addrinfo*)> addrs(res,
                                                             uv_freeaddrinfo);
        if (owned->alive.expired()) {
          return;
        }
        owned->done(res == nullptr && status == 0 ? UV_EAI_NONAME : status,
                    status < 0 || res == nullptr ? nullptr : res->ai_addr);
      },
      host.c_str(), std::to_string(port).c_str(), &hints);
  if (rc != 0) {
    delete l;
  }
  return rc;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Compares every byte of the longer one, whatever the contents.
  std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

}  // namespace impl
}  // namespace courier::http
