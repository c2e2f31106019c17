// courier_scaling: how aggregate message throughput scales with the number
// of loops (threads). For each loop count L it starts a system with L loops
// and runs two windowed ping-pong workloads:
//
//   local  on each loop, P pairs whose two actors both sit on that loop
//          (only same-loop sends: the loops share nothing);
//   cross  P pairs per loop whose pinger sits on loop i and whose ponger
//          sits on loop (i + 1) % L (every message crosses threads; with
//          L = 1 both sit on loop 0, so that row is a same-loop figure).
//
// A pinger keeps `window` pings outstanding: it starts with `window` pings
// and sends one more for each pong, until it has had `msgs` pongs. Every
// ping and every pong counts as one message, so a run handles
// 2 * msgs * P * L messages (weak scaling: the work per loop is the same
// for every L). A run is bounded in count and in time:
//  - when every pair has had its `msgs` pongs within --seconds, the figure
//    is 2 * msgs * P * L over the wall time from the first `go` to the last
//    pair's final pong;
//  - otherwise, at --seconds, the figure is the messages the loops handled
//    so far (their metrics counters) over the time so far; the pingers then
//    stop sending and drain. The table counts such runs as "capped".
// Each measurement runs `runs` times after a short warm-up; the table shows
// the median, the speed-up against the smallest loop count and the
// efficiency (speed-up / loop ratio).
//
//   courier_scaling [--loops 1,2,4,8,16] [--runs 3] [--pairs 4]
//                   [--window 64] [--msgs 2000000] [--seconds 2]
//                   [--deadline 60] [--quick]
//
// A run that has not drained within --deadline seconds (a hang) prints the
// per-loop counters and exits with status 1 instead of blocking forever.

#include "courier/courier.hpp"

#include "harness.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct config {
  std::vector<std::size_t> loops{1, 2, 4, 8, 16};
  int runs = 3;
  std::uint64_t pairs = 4;         // per loop
  std::uint64_t window = 64;       // pings outstanding per pair
  std::uint64_t msgs = 2'000'000;  // pongs per pair per run
  double cap_s = 2;                // time bound of one run's measurement
  double deadline_s = 60;          // a run not drained by then is a hang
  bool quick = false;
};

clock_type::duration seconds(double s) {
  return std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(s));
}

// --- completion --------------------------------------------------------------

/// Counts finished pairs; the last one records the end time and wakes main.
/// Touched once per pair per run, never on the hot path.
class finish_line {
 public:
  explicit finish_line(std::uint64_t pairs) : left_(pairs) {}

  void arrive() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      auto now = clock_type::now();
      std::lock_guard<std::mutex> lock(mutex_);
      end_ = now;
      done_ = true;
      cv_.notify_all();
    }
  }

  /// Stores the end time in `end`; false when `until` passes first.
  bool wait_until(clock_type::time_point until, clock_type::time_point& end) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_until(lock, until, [this] { return done_; })) {
      return false;
    }
    end = end_;
    return true;
  }

  std::uint64_t left() const { return left_.load(); }

 private:
  std::atomic<std::uint64_t> left_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  clock_type::time_point end_{};
};

// --- actors ------------------------------------------------------------------

struct ping {
  courier::actor_ref from;
};
struct pong {};
struct go {};
struct sync {};

class ponger : public courier::actor {
 public:
  courier::behavior behavior() override {
    return {
        [](const ping& p) { p.from.tell(pong{}); },
        [](sync) {},
    };
  }
};

class pinger : public courier::actor {
 public:
  pinger(courier::actor_ref peer, std::uint64_t n, std::uint64_t window,
         finish_line* finish, const std::atomic<bool>* stop)
      : peer_(peer), n_(n), window_(window), finish_(finish), stop_(stop) {}

  courier::behavior behavior() override {
    return {
        [this](pong) {
          ++received_;
          // `stop` is written once per run, at the time cap: reading it
          // hits a cache line no one writes meanwhile.
          if (sent_ < n_ && !stop_->load(std::memory_order_relaxed)) {
            peer_.tell(ping{self()});
            ++sent_;
          } else if (received_ == sent_) {
            finish_->arrive();  // every pong in, or stopped and drained
          }
        },
        [this](go) {
          std::uint64_t first = std::min(window_, n_);
          for (std::uint64_t i = 0; i < first; ++i) {
            peer_.tell(ping{self()});
          }
          sent_ = first;
        },
        [](sync) {},
    };
  }

 private:
  courier::actor_ref peer_;
  std::uint64_t n_;
  std::uint64_t window_;
  finish_line* finish_;
  const std::atomic<bool>* stop_;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
};

// --- one run -----------------------------------------------------------------

enum class kind { local, cross };

const char* name_of(kind k) {
  return k == kind::local ? "local" : "cross";
}

[[noreturn]] void fail_timeout(courier::system& sys, kind k,
                               const finish_line& finish, std::uint64_t pairs,
                               double deadline_s) {
  std::fprintf(stderr,
               "courier_scaling: TIMEOUT: loops=%zu workload=%s not drained "
               "within %g s (%llu of %llu pairs unfinished)\n",
               sys.loop_count(), name_of(k), deadline_s,
               static_cast<unsigned long long>(finish.left()),
               static_cast<unsigned long long>(pairs));
  auto m = sys.metrics();
  for (std::size_t i = 0; i < m.loops.size(); ++i) {
    const auto& l = m.loops[i];
    std::fprintf(stderr,
                 "  loop %zu: messages=%llu wakeups=%llu actors=%llu "
                 "inbound_depth=%llu\n",
                 i, static_cast<unsigned long long>(l.messages),
                 static_cast<unsigned long long>(l.wakeups),
                 static_cast<unsigned long long>(l.actors),
                 static_cast<unsigned long long>(l.inbound_depth));
  }
  std::fprintf(stderr, "  dead_letters=%llu unhandled=%llu failures=%llu\n",
               static_cast<unsigned long long>(m.dead_letters),
               static_cast<unsigned long long>(m.unhandled),
               static_cast<unsigned long long>(m.failures));
  std::fflush(stdout);
  std::fflush(stderr);
  // The loops may be stuck: skip the system's destructor.
  std::_Exit(1);
}

std::uint64_t handled(const courier::metrics& m) {
  std::uint64_t sum = 0;
  for (const auto& l : m.loops) {
    sum += l.messages;
  }
  return sum;
}

struct outcome {
  double rate;  // messages per second
  bool capped;  // the time cap ended the measurement
};

/// One run on `sys`: `n` pongs per pair, measured for at most `cap_s`.
outcome run_once(courier::system& sys, kind k, std::uint64_t n, double cap_s,
                 const config& cfg) {
  const std::size_t loops = sys.loop_count();
  const std::uint64_t pairs = cfg.pairs * loops;
  finish_line finish(pairs);
  std::atomic<bool> stop{false};
  std::vector<courier::actor_ref> pingers;
  std::vector<courier::actor_ref> pongers;
  pingers.reserve(pairs);
  pongers.reserve(pairs);
  for (std::size_t i = 0; i < loops; ++i) {
    auto at = static_cast<std::uint16_t>(i);
    auto peer_at =
        static_cast<std::uint16_t>(k == kind::local ? i : (i + 1) % loops);
    for (std::uint64_t p = 0; p < cfg.pairs; ++p) {
      pongers.push_back(
          sys.spawn<ponger>(courier::spawn_options{.loop = peer_at}));
      pingers.push_back(sys.spawn<pinger>(courier::spawn_options{.loop = at},
                                          pongers.back(), n, cfg.window,
                                          &finish, &stop));
    }
  }
  // Every actor has started before the clock starts.
  for (auto& r : pongers) {
    r.ask<void>(sync{}).get();
  }
  for (auto& r : pingers) {
    r.ask<void>(sync{}).get();
  }

  const std::uint64_t before = handled(sys.metrics());  // the loops are idle
  const auto t0 = clock_type::now();
  for (auto& r : pingers) {
    r.tell(go{});
  }
  outcome out{0, false};
  clock_type::time_point t1;
  if (finish.wait_until(t0 + seconds(cap_s), t1)) {
    out.rate = 2.0 * static_cast<double>(n) * static_cast<double>(pairs) /
               std::chrono::duration<double>(t1 - t0).count();
  } else {
    // Time cap: count what the loops handled so far, then stop and drain.
    auto ta = clock_type::now();
    std::uint64_t after = handled(sys.metrics());
    auto tb = clock_type::now();
    stop.store(true, std::memory_order_relaxed);
    auto t_cap = ta + (tb - ta) / 2;
    out.rate = static_cast<double>(after - before) /
               std::chrono::duration<double>(t_cap - t0).count();
    out.capped = true;
    if (!finish.wait_until(t0 + seconds(cfg.deadline_s), t1)) {
      fail_timeout(sys, k, finish, pairs, cfg.deadline_s);
    }
  }
  for (auto& r : pingers) {
    sys.stop(r);
  }
  for (auto& r : pongers) {
    sys.stop(r);
  }
  return out;
}

// --- command line ------------------------------------------------------------

[[noreturn]] void usage(const char* argv0, const char* why) {
  if (why != nullptr) {
    std::fprintf(stderr, "%s: %s\n", argv0, why);
  }
  std::fprintf(
      stderr,
      "usage: %s [--loops L1,L2,...] [--runs R] [--pairs P] [--window W]\n"
      "          [--msgs N] [--seconds S] [--deadline S] [--quick]\n"
      "  --loops     loop counts to measure (default 1,2,4,8,16)\n"
      "  --runs      measured runs per point; the median is shown (default 3)\n"
      "  --pairs     ping-pong pairs per loop (default 4)\n"
      "  --window    pings in flight per pair (default 64)\n"
      "  --msgs      pongs per pair per run (default 2000000)\n"
      "  --seconds   time cap of one run's measurement (default 2)\n"
      "  --deadline  seconds after which a run that has not drained fails\n"
      "              (default 60)\n"
      "  --quick     a tiny smoke run: --msgs 5000 --runs 1 unless given\n"
      "Options take their value as --opt V or --opt=V.\n",
      argv0);
  std::exit(2);
}

std::uint64_t to_count(const char* argv0, std::string_view opt,
                       const std::string& s, std::uint64_t min,
                       std::uint64_t max) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] == '-' || *end != '\0' || v < min || v > max) {
    std::string why = "bad value for " + std::string(opt) + ": '" + s +
                      "' (want " + std::to_string(min) + ".." +
                      std::to_string(max) + ")";
    usage(argv0, why.c_str());
  }
  return v;
}

double to_seconds(const char* argv0, std::string_view opt,
                  const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v > 0) || v > 86400) {
    std::string why = "bad value for " + std::string(opt) + ": '" + s + "'";
    usage(argv0, why.c_str());
  }
  return v;
}

config parse(int argc, char** argv) {
  constexpr std::uint64_t big = 1'000'000'000'000ull;
  config cfg;
  bool runs_set = false;
  bool msgs_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--quick") {
      cfg.quick = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      usage(argv[0], nullptr);
    }
    std::string_view opt = a;
    std::string value;
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      opt = a.substr(0, eq);
      value = std::string(a.substr(eq + 1));
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::string why = "missing value for " + std::string(a);
      usage(argv[0], why.c_str());
    }
    if (opt == "--loops") {
      cfg.loops.clear();
      std::size_t pos = 0;
      while (pos <= value.size()) {
        auto comma = value.find(',', pos);
        if (comma == std::string::npos) {
          comma = value.size();
        }
        cfg.loops.push_back(static_cast<std::size_t>(
            to_count(argv[0], opt, value.substr(pos, comma - pos), 1, 1024)));
        pos = comma + 1;
      }
    } else if (opt == "--runs") {
      cfg.runs = static_cast<int>(to_count(argv[0], opt, value, 1, 1000));
      runs_set = true;
    } else if (opt == "--pairs") {
      cfg.pairs = to_count(argv[0], opt, value, 1, 100'000);
    } else if (opt == "--window") {
      cfg.window = to_count(argv[0], opt, value, 1, 1'000'000);
    } else if (opt == "--msgs") {
      cfg.msgs = to_count(argv[0], opt, value, 1, big);
      msgs_set = true;
    } else if (opt == "--seconds") {
      cfg.cap_s = to_seconds(argv[0], opt, value);
    } else if (opt == "--deadline") {
      cfg.deadline_s = to_seconds(argv[0], opt, value);
    } else {
      std::string why = "unknown option " + std::string(a);
      usage(argv[0], why.c_str());
    }
  }
  if (cfg.quick) {
    if (!msgs_set) {
      cfg.msgs = 5'000;
    }
    if (!runs_set) {
      cfg.runs = 1;
    }
  }
  if (cfg.deadline_s < cfg.cap_s) {
    usage(argv[0], "--deadline must not be shorter than --seconds");
  }
  std::sort(cfg.loops.begin(), cfg.loops.end());
  cfg.loops.erase(std::unique(cfg.loops.begin(), cfg.loops.end()),
                  cfg.loops.end());
  return cfg;
}

/// The CPUs this process may run on (what `nproc` prints).
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return -1;
  }
  return CPU_COUNT(&set);
}

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.2fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

}  // namespace

// The machine's own scaling, for comparison: L plain threads, each running
// a fixed amount of independent work that stays in its own L1 cache (a
// xorshift chain writing a 4 KiB table). Turbo clocks, SMT siblings and
// noisy neighbours show here as they do in the courier rows.
double machine_rate(std::size_t threads, std::uint64_t iterations) {
  std::vector<std::thread> pool;
  std::atomic<std::uint64_t> sink{0};
  auto t0 = clock_type::now();
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&sink, iterations, t] {
      std::uint64_t x = 0x9E3779B97F4A7C15ull + t;
      std::uint32_t table[1024] = {};
      for (std::uint64_t i = 0; i < iterations; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        table[x & 1023] += static_cast<std::uint32_t>(i);
      }
      sink.fetch_add(x + table[x & 1023], std::memory_order_relaxed);
    });
  }
  for (auto& th : pool) {
    th.join();
  }
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  return static_cast<double>(iterations * threads) / secs;
}

int main(int argc, char** argv) {
  const config cfg = parse(argc, argv);
  const auto start = clock_type::now();

  const int cpus = usable_cpus();
  std::printf("courier_scaling%s\n", cfg.quick ? " (quick)" : "");
  std::printf("nproc (usable CPUs): %d\n", cpus);
  std::printf("hardware_concurrency: %u\n",
              std::thread::hardware_concurrency());
#ifdef NDEBUG
  std::printf("build: NDEBUG (optimized)\n");
#else
  std::printf("build: assertions on (not a Release build)\n");
#endif
  std::printf("loops:");
  for (auto l : cfg.loops) {
    std::printf(" %zu", l);
  }
  std::printf(
      "\npairs per loop: %llu, window: %llu, pongs per pair: %llu, "
      "time cap: %g s, runs: %d (median), deadline: %g s\n",
      static_cast<unsigned long long>(cfg.pairs),
      static_cast<unsigned long long>(cfg.window),
      static_cast<unsigned long long>(cfg.msgs), cfg.cap_s, cfg.runs,
      cfg.deadline_s);
  if (cpus > 0 && cfg.loops.back() > static_cast<std::size_t>(cpus)) {
    std::printf(
        "note: more loops than usable CPUs (%d): rows above %d loops "
        "measure an oversubscribed machine, not scaling\n",
        cpus, cpus);
  }
  std::printf("\n");
  std::fflush(stdout);

  struct point {
    std::size_t loops;
    kind k;
    std::vector<double> values;
    int capped = 0;
  };
  std::vector<point> points;
  const std::uint64_t warmup_n = std::max<std::uint64_t>(cfg.msgs / 10, 1);
  const double warmup_cap = std::min(cfg.cap_s, 0.25);
  for (auto loops : cfg.loops) {
    courier::system sys{courier::system_config{.loops = loops}};
    for (kind k : {kind::local, kind::cross}) {
      point pt{loops, k, {}};
      run_once(sys, k, warmup_n, warmup_cap, cfg);
      for (int r = 0; r < cfg.runs; ++r) {
        outcome o = run_once(sys, k, cfg.msgs, cfg.cap_s, cfg);
        pt.values.push_back(o.rate);
        pt.capped += o.capped ? 1 : 0;
        std::printf("RESULT %s_L%zu msgs/s %.6g%s\n", name_of(k), loops, o.rate,
                    o.capped ? "  (time cap)" : "");
        std::fflush(stdout);
      }
      points.push_back(std::move(pt));
    }
  }

  const std::size_t base = cfg.loops.front();
  std::printf("\n%-6s %-8s %12s %9s %11s %10s %10s %7s\n", "loops", "workload",
              "msgs/s", "speed-up", "efficiency", "min", "max", "capped");
  for (kind k : {kind::local, kind::cross}) {
    double base_value = 0;
    for (const auto& pt : points) {
      if (pt.k == k && pt.loops == base) {
        base_value = bench::median(pt.values);
      }
    }
    for (const auto& pt : points) {
      if (pt.k != k) {
        continue;
      }
      double med = bench::median(pt.values);
      auto [mn, mx] = std::minmax_element(pt.values.begin(), pt.values.end());
      double speedup = base_value > 0 ? med / base_value : 0;
      double ratio = static_cast<double>(pt.loops) / static_cast<double>(base);
      std::printf("%-6zu %-8s %12s %8.2fx %10.0f%% %10s %10s %4d/%d\n",
                  pt.loops, name_of(k), human(med).c_str(), speedup,
                  100.0 * speedup / ratio, human(*mn).c_str(),
                  human(*mx).c_str(), pt.capped, cfg.runs);
    }
  }
  // The same loop counts as plain threads (no courier).
  const std::uint64_t iters = cfg.quick ? 2000000 : 200000000;
  double machine_base = 0;
  std::printf("\n%-6s %-8s %12s %9s %11s\n", "threads", "machine", "ops/s",
              "speed-up", "efficiency");
  for (auto loops : cfg.loops) {
    std::vector<double> v;
    for (int r = 0; r < cfg.runs; ++r) {
      v.push_back(machine_rate(loops, iters));
    }
    double med = bench::median(v);
    if (loops == base) {
      machine_base = med;
    }
    double speedup = machine_base > 0 ? med / machine_base : 0;
    double ratio = static_cast<double>(loops) / static_cast<double>(base);
    std::printf("%-6zu %-8s %12s %8.2fx %10.0f%%\n", loops, "cpu",
                human(med).c_str(), speedup, 100.0 * speedup / ratio);
  }
  std::printf(
      "\nmsgs/s: median of %d run(s); speed-up: over the median at %zu "
      "loop(s); efficiency: speed-up / (loops / %zu).\n",
      cfg.runs, base, base);
  std::printf(
      "capped: runs ended by the %g s cap (their figure comes from the "
      "loops' message counters).\n",
      cfg.cap_s);
  if (base == 1) {
    std::printf(
        "cross at 1 loop: pinger and ponger share loop 0 (no thread "
        "crossing), so cross speed-ups include the cost of crossing "
        "threads.\n");
  }
  std::printf("total time: %.1f s\n",
              std::chrono::duration<double>(clock_type::now() - start).count());
  return 0;
}
