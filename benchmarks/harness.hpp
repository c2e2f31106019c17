// A plain benchmark harness shared by the courier and CAF benchmark drivers.
// Each workload is run `runs` times; every run prints one machine-readable
// line (`RESULT <workload> <unit> <value>`) and the driver prints a
// min/median/max table at the end. benchmarks/compare.sh interleaves two
// drivers (courier, CAF) run by run and prints the ratio table.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

/// One workload: a name, its unit, and whether a higher value is better.
struct workload {
  std::string name;
  std::string unit;  // "msgs/s", "hops/s", "ns/rt", "actors/s", "B/actor"
  std::function<double()> run;  // one run; returns the measured value
};

/// Command-line options every driver understands.
struct options {
  int runs = 5;
  std::string only;    // run only workloads whose name contains this
  std::string exact;   // run only the workload of this name
  bool list = false;   // print the workload names and exit
  double scale = 1.0;  // multiplies message counts (e.g. 0.1 for a smoke run)
};

inline options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view key) -> const char* {
      if (a.substr(0, key.size()) == key && a.size() > key.size() &&
          a[key.size()] == '=') {
        return argv[i] + key.size() + 1;
      }
      return nullptr;
    };
    if (auto v = value("--runs")) {
      o.runs = std::atoi(v);
    } else if (auto v2 = value("--only")) {
      o.only = v2;
    } else if (auto v3 = value("--scale")) {
      o.scale = std::atof(v3);
    } else if (auto v4 = value("--workload")) {
      o.exact = v4;
    } else if (a == "--list") {
      o.list = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--runs=N] [--only=SUBSTR] [--workload=NAME] "
                   "[--scale=F] [--list]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return o;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

/// Bytes currently allocated through malloc (glibc).
inline std::size_t heap_in_use() {
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/// Resets the process's peak resident set size (VmHWM), so that
/// peak_rss() then reports the peak of what follows (Linux >= 4.0).
inline void reset_peak_rss() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

/// A field of /proc/self/status in bytes ("VmHWM", "VmRSS"), 0 if absent.
inline std::size_t proc_status_bytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return 0;
  }
  char line[256];
  std::size_t kb = 0;
  std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      kb = std::strtoull(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// Runs every selected workload `o.runs` times and prints the table.
inline int run_all(const char* driver, const options& o,
                   const std::vector<workload>& ws) {
  struct row {
    const workload* w;
    std::vector<double> values;
  };
  std::vector<row> rows;
  for (const auto& w : ws) {
    if (!o.only.empty() && w.name.find(o.only) == std::string::npos) {
      continue;
    }
    if (!o.exact.empty() && w.name != o.exact) {
      continue;
    }
    if (o.list) {
      std::printf("%s\n", w.name.c_str());
      continue;
    }
    row r{&w, {}};
    for (int i = 0; i < o.runs; ++i) {
      double v = w.run();
      r.values.push_back(v);
      std::printf("RESULT %s %s %.6g\n", w.name.c_str(), w.unit.c_str(), v);
      std::fflush(stdout);
    }
    rows.push_back(std::move(r));
  }
  if (o.list) {
    return 0;
  }
  std::printf("\n%s: %d run(s) per workload\n", driver, o.runs);
  std::printf("%-24s %-10s %14s %14s %14s\n", "workload", "unit", "min",
              "median", "max");
  for (const auto& r : rows) {
    auto [mn, mx] = std::minmax_element(r.values.begin(), r.values.end());
    std::printf("%-24s %-10s %14.4g %14.4g %14.4g\n", r.w->name.c_str(),
                r.w->unit.c_str(), *mn, median(r.values), *mx);
  }
  return 0;
}

}  // namespace bench
