// Unbounded bursts, as a user's first program writes them: actors spawned
// from main with default options, each sender sends its whole share from
// one handler with no flow control, messages of one int64_t.
//   burst_1to1      10,000,000 tells, one sender, one receiver; msgs/s
//   burst_4to1      the same 10,000,000 from four senders; msgs/s
//   burst_mem       the 1 -> 1 burst again; peak resident bytes it added,
//                   per message (how much memory an unbounded burst
//                   touches)

#include "common.hpp"

namespace bench {

namespace {

struct item {
  std::int64_t value;
};
struct fire {
  std::uint64_t count;
};

class sink : public courier::actor {
 public:
  sink(std::uint64_t expect, done_flag* done) : expect_(expect), done_(done) {}

  courier::behavior behavior() override {
    return {[this](const item& i) {
      sum_ += i.value;
      if (++seen_ == expect_) {
        done_->set();
      }
    }};
  }

 private:
  std::uint64_t expect_;
  done_flag* done_;
  std::uint64_t seen_ = 0;
  std::int64_t sum_ = 0;
};

class source : public courier::actor {
 public:
  explicit source(courier::actor_ref to) : to_(to) {}

  courier::behavior behavior() override {
    return {[this](const fire& f) {
      for (std::uint64_t i = 0; i < f.count; ++i) {
        to_.tell(item{static_cast<std::int64_t>(i)});
      }
    }};
  }

 private:
  courier::actor_ref to_;
};

struct burst_result {
  double per_second;
  double bytes_per_message;
};

burst_result run_burst(std::uint64_t n, std::uint64_t senders) {
  courier::system sys{courier::system_config{.loops = 2}};
  done_flag done;
  auto to = sys.spawn<sink>(n, &done);
  std::vector<courier::actor_ref> from;
  for (std::uint64_t i = 0; i < senders; ++i) {
    from.push_back(sys.spawn<source>(to));
  }
  std::size_t before = proc_status_bytes("VmRSS");
  reset_peak_rss();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& f : from) {
    f.tell(fire{n / senders});
  }
  done.wait();
  double secs = seconds_since(t0);
  std::size_t peak = proc_status_bytes("VmHWM");
  return {static_cast<double>(n) / secs,
          peak > before
              ? static_cast<double>(peak - before) / static_cast<double>(n)
              : 0.0};
}

}  // namespace

void add_burst(std::vector<workload>& ws, const options& o) {
  std::uint64_t n = scaled(o.scale, 10'000'000);
  ws.push_back({"burst_1to1", "msgs/s", [n] {
                  return run_burst(n, 1).per_second;
                }});
  ws.push_back({"burst_4to1", "msgs/s", [n] {
                  return run_burst(n - n % 4, 4).per_second;
                }});
  ws.push_back({"burst_mem", "B/msg", [n] {
                  return run_burst(n, 1).bytes_per_message;
                }});
}

}  // namespace bench
