#pragma once

// JSON from untrusted sources with a bound on nesting. nlohmann's parser
// keeps its own stack, but copying, comparing and dumping a document
// recurse once per level: a 200 KB body of '[' overflows a thread's stack.
// Everything courier parses from a client or a peer (HTTP bodies, publish,
// NATS imports) goes through parse_json() with a depth limit, and payloads
// are checked with json_depth_within() before they are encoded.
// Header-only; needs nlohmann_json (courier::http and courier::nats bring
// it).

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace courier {

/// The nesting depth courier accepts by default (arrays and objects).
inline constexpr std::size_t default_max_json_depth = 64;

/// True when the arrays and objects in `text` nest at most `max_depth`
/// deep. A linear scan that skips strings; `text` need not be valid JSON.
inline bool json_depth_within(std::string_view text,
                              std::size_t max_depth) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

/// True when the document `j` nests at most `max_depth` deep (a scalar is
/// depth 0). Walks with an explicit stack, never recursion.
inline bool json_depth_within(const nlohmann::json& j, std::size_t max_depth) {
  if (!j.is_structured()) {
    return true;
  }
  std::vector<std::pair<const nlohmann::json*, std::size_t>> todo{{&j, 1}};
  while (!todo.empty()) {
    auto [node, depth] = todo.back();
    todo.pop_back();
    if (depth > max_depth) {
      return false;
    }
    for (const auto& child : *node) {
      if (child.is_structured()) {
        todo.emplace_back(&child, depth + 1);
      }
    }
  }
  return true;
}

/// Parses untrusted JSON: a discarded value (is_discarded()) when `text`
/// is not JSON or nests deeper than `max_depth`. Never throws on input.
/// A NUL byte makes it invalid: no JSON text holds one, and nlohmann would
/// take it for the end and drop what follows.
inline nlohmann::json parse_json(
    std::string_view text, std::size_t max_depth = default_max_json_depth) {
  if (text.find('\0') != std::string_view::npos ||
      !json_depth_within(text, max_depth)) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return nlohmann::json::parse(text, nullptr, false);
}

}  // namespace courier
