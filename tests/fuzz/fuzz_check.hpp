// What the fuzz harnesses share: a property check that aborts (libFuzzer
// then saves the input), and an input split into lines.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace courier::fuzz {

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
  std::abort();
}

/// The pieces of `in` between `sep` bytes, at most `max` (the last one
/// keeps the rest).
inline std::vector<std::string_view> split(std::string_view in, char sep,
                                           std::size_t max = 64) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < max) {
    std::size_t at = in.find(sep);
    if (at == std::string_view::npos) {
      break;
    }
    out.push_back(in.substr(0, at));
    in.remove_prefix(at + 1);
  }
  out.push_back(in);
  return out;
}

}  // namespace courier::fuzz

#define COURIER_FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) \
          : ::courier::fuzz::fail(#cond, __FILE__, __LINE__))
