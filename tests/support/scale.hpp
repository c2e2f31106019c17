// Scales big test counts by COURIER_TEST_SCALE (set under ThreadSanitizer).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace courier::test {

inline double scale_factor() {
  const char* env = std::getenv("COURIER_TEST_SCALE");
  if (env == nullptr || *env == '\0') {
    return 1.0;
  }
  double f = std::atof(env);
  return f > 0.0 ? f : 1.0;
}

inline std::uint64_t scaled(std::uint64_t n, std::uint64_t minimum = 1) {
  auto v = static_cast<std::uint64_t>(static_cast<double>(n) * scale_factor());
  return std::max(v, minimum);
}

}  // namespace courier::test
