#include "courier/prometheus_writer.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

namespace courier {

namespace {

bool name_char(char c, bool first, bool colon) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    return true;
  }
  return (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view s, bool colon) noexcept {
  if (s.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!name_char(s[i], i == 0, colon)) {
      return false;
    }
  }
  return true;
}

void check_metric_name(std::string_view name) {
  if (!valid_name(name, true)) {
    throw std::invalid_argument("prometheus: invalid metric name \"" +
                                std::string(name) + "\"");
  }
}

void check_label_name(std::string_view name) {
  // Names that start with "__" are reserved for Prometheus itself.
  if (!valid_name(name, false) || name.starts_with("__")) {
    throw std::invalid_argument("prometheus: invalid label name \"" +
                                std::string(name) + "\"");
  }
}

// The length of the UTF-8 sequence at the start of `s`, or 0 when it is
// not one (overlong forms, surrogates and values past U+10FFFF included).
std::size_t utf8_length(std::string_view s) noexcept {
  auto b = [&s](std::size_t i) {
    return static_cast<unsigned char>(s[i]);
  };
  auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < s.size() && b(i) >= lo && b(i) <= hi;
  };
  unsigned c = b(0);
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Appends `s` escaped: backslash and newline always, the double quote in
// label values; invalid UTF-8 becomes U+FFFD, which Prometheus requires.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  while (!s.empty()) {
    std::size_t n = utf8_length(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      s.remove_prefix(1);
      continue;
    }
    char c = s[0];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.append(s.data(), n);
    }
    s.remove_prefix(n);
  }
}

const char* type_name(metric_type t) noexcept {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
    case metric_type::summary:
      return "summary";
    case metric_type::untyped:
      break;
  }
  return "untyped";
}

}  // namespace

void prometheus_writer::family(std::string_view name, metric_type type,
                               std::string_view help) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    if (families_[it->second].type != type) {
      throw std::invalid_argument("prometheus: family \"" + std::string(name) +
                                  "\" declared with two types");
    }
    return;
  }
  check_metric_name(name);
  index_.emplace(std::string(name), families_.size());
  families_.push_back(
      family_data{std::string(name), type, std::string(help), {}});
}

void prometheus_writer::sample(std::string_view name, labels ls, double value) {
  add(name, ls, number(value));
}

prometheus_writer::family_data& prometheus_writer::family_of(
    std::string_view sample_name) {
  auto find = [this](std::string_view n) -> family_data* {
    auto it = index_.find(n);
    return it == index_.end() ? nullptr : &families_[it->second];
  };
  family_data* f = find(sample_name);
  if (f != nullptr && f->type != metric_type::histogram) {
    return *f;
  }
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!sample_name.ends_with(suffix)) {
      continue;
    }
    f = find(sample_name.substr(0, sample_name.size() - suffix.size()));
    bool bucket = suffix == "_bucket";
    if (f != nullptr && (f->type == metric_type::histogram ||
                         (f->type == metric_type::summary && !bucket))) {
      return *f;
    }
  }
  throw std::invalid_argument("prometheus: sample \"" +
                              std::string(sample_name) +
                              "\" of no declared family");
}

void prometheus_writer::add(std::string_view name, labels ls,
                            std::string_view value) {
  family_data& f = family_of(name);
  std::string line(name);
  char sep = '{';
  for (const label* l = ls.begin(); l != ls.end(); ++l) {
    check_label_name(l->name);
    for (const label* k = ls.begin(); k != l; ++k) {
      if (k->name == l->name) {
        throw std::invalid_argument("prometheus: label \"" +
                                    std::string(l->name) + "\" given twice");
      }
    }
    line += sep;
    line += l->name;
    line += "=\"";
    append_escaped(line, l->value, true);
    line += '"';
    sep = ',';
  }
  if (ls.size() != 0) {
    line += '}';
  }
  line += ' ';
  line += value;
  line += '\n';
  f.samples += line;
}

void prometheus_writer::merge(const prometheus_writer& other) {
  // By index: merging a writer into itself must not see its own growth.
  std::size_t n = other.families_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const family_data& f = other.families_[i];
    family(f.name, f.type, f.help);
    families_[index_.find(f.name)->second].samples += f.samples;
  }
}

std::string prometheus_writer::str() const {
  std::string out;
  for (const family_data& f : families_) {
    if (!f.help.empty()) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      append_escaped(out, f.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    out += f.samples;
  }
  return out;
}

std::string prometheus_writer::number(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  // Shortest round trip, in the style of %g (what Go's client prints).
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general);
  return std::string(buf, r.ptr);
}

}  // namespace courier
