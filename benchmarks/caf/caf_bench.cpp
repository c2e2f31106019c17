// CAF 0.17 baseline for the courier benchmarks: runs the same workloads as
// benchmarks/courier_bench (same names, units, message counts and flow-control
// protocol) on a CAF actor_system whose scheduler is limited to two worker
// threads. One actor_system is created per run and shut down (all actors
// awaited) before the run returns.
//
// Usage: caf_bench [--runs=N] [--only=SUBSTR] [--scale=F]

#include "caf/all.hpp"
#include "harness.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using continue_atom = caf::atom_constant<caf::atom("cont")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using next_atom = caf::atom_constant<caf::atom("next")>;

constexpr int kWorkerThreads = 2;

// Flow control of the tell workloads (identical to the courier driver).
constexpr std::int64_t kBatch = 1'000;    // messages per continue step
constexpr std::int64_t kWindow = 50'000;  // max un-acknowledged per sender
constexpr std::int64_t kAckEvery = 10'000;

// Base counts, multiplied by --scale.
constexpr double kTellMsgs = 10'000'000;
constexpr double kAskTrips = 1'000'000;
constexpr double kBlockingTrips = 20'000;
constexpr double kSpawnActors = 1'000'000;
constexpr int kRingSize = 1'000;
constexpr double kRingHops = 10'000'000;

double g_scale = 1.0;

// Truncates like the courier driver (bench::scaled in common.hpp), min 1.
std::int64_t scaled(double base) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(base * g_scale));
}

// Owns the config and the system of one run. The destructor of
// actor_system waits for all actors to terminate before it returns.
struct caf_env {
  caf::actor_system_config cfg;
  caf::actor_system sys;

  static caf::actor_system_config& configure(caf::actor_system_config& c) {
    c.set("scheduler.max-threads", kWorkerThreads);
    return c;
  }

  caf_env() : sys(configure(cfg)) {
    static bool printed = false;
    if (!printed) {
      printed = true;
      std::printf(
          "caf %d.%d.%d: scheduler.max-threads=%d -> %zu worker thread(s)\n",
          CAF_VERSION / 10000, (CAF_VERSION / 100) % 100, CAF_VERSION % 100,
          kWorkerThreads, sys.scheduler().num_workers());
      std::fflush(stdout);
    }
  }
};

void kill_all(const std::vector<caf::actor>& actors) {
  for (const auto& a : actors) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
}

// -- tell ---------------------------------------------------------------------

// Sends `n` messages carrying its id to `receiver`, kBatch per step, with at
// most kWindow un-acknowledged. Between batches it sends itself a continue
// message so that other messages (acks) can be processed.
class tell_sender : public caf::event_based_actor {
 public:
  tell_sender(caf::actor_config& cfg, caf::actor receiver, int id,
              std::int64_t n)
      : caf::event_based_actor(cfg),
        receiver_(std::move(receiver)),
        id_(id),
        n_(n) {}

  caf::behavior make_behavior() override {
    return {
        [this](start_atom) { pump(); },
        [this](continue_atom) { pump(); },
        [this](ack_atom, std::int64_t acked) {
          acked_ = acked;
          if (blocked_ && sent_ - acked_ < kWindow) {
            blocked_ = false;
            pump();
          }
        },
    };
  }

 private:
  void pump() {
    auto k = std::min({kBatch, n_ - sent_, kWindow - (sent_ - acked_)});
    for (std::int64_t i = 0; i < k; ++i) {
      send(receiver_, id_);
    }
    sent_ += k;
    if (sent_ == n_) {
      return;  // done; remaining acks are ignored
    }
    if (sent_ - acked_ >= kWindow) {
      blocked_ = true;  // resumed by the next ack
    } else {
      send(this, continue_atom::value);
    }
  }

  caf::actor receiver_;
  int id_;
  std::int64_t n_;
  std::int64_t sent_ = 0;
  std::int64_t acked_ = 0;
  bool blocked_ = false;
};

struct tell_receiver_state {
  std::vector<std::int64_t> counts;  // per sender id
  std::int64_t total = 0;
};

caf::behavior tell_receiver(caf::stateful_actor<tell_receiver_state>* self,
                            int senders, std::int64_t expected,
                            std::promise<void>* done) {
  self->state.counts.assign(senders, 0);
  return {
      [=](int id) {
        auto& st = self->state;
        auto c = ++st.counts[id];
        if (c % kAckEvery == 0) {
          self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                     ack_atom::value, c);
        }
        if (++st.total == expected) {
          done->set_value();
        }
      },
  };
}

// `senders` senders share `n` messages; returns n / seconds.
double run_tell(int senders) {
  caf_env env;
  auto n = scaled(kTellMsgs);
  n = std::max<std::int64_t>(senders, n - n % senders);  // as courier does
  std::promise<void> done;
  auto fut = done.get_future();
  auto receiver = env.sys.spawn(tell_receiver, senders, n, &done);
  std::vector<caf::actor> all{receiver};
  for (int i = 0; i < senders; ++i) {
    all.push_back(env.sys.spawn<tell_sender>(receiver, i, n / senders));
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= senders; ++i) {
    caf::anon_send(all[i], start_atom::value);
  }
  fut.wait();
  auto secs = bench::seconds_since(t0);
  kill_all(all);
  return static_cast<double>(n) / secs;
}

// -- unbounded bursts (benchmarks/burst.cpp) ---------------------------------

struct burst_sink_state {
  std::int64_t seen = 0;
  std::int64_t sum = 0;
};

caf::behavior burst_sink(caf::stateful_actor<burst_sink_state>* self,
                         std::int64_t expected, std::promise<void>* done) {
  return {
      [=](std::int64_t v) {
        auto& st = self->state;
        st.sum += v;
        if (++st.seen == expected) {
          done->set_value();
        }
      },
  };
}

// Sends its whole share from one handler, with no flow control.
caf::behavior burst_source(caf::event_based_actor* self, caf::actor sink) {
  return {
      [=](start_atom, std::int64_t count) {
        for (std::int64_t i = 0; i < count; ++i) {
          self->send(sink, i);
        }
      },
  };
}

struct burst_result {
  double per_second;
  double bytes_per_message;
};

burst_result run_burst(int senders) {
  caf_env env;
  auto n = scaled(kTellMsgs);
  n = std::max<std::int64_t>(senders, n - n % senders);
  std::promise<void> done;
  auto fut = done.get_future();
  auto sink = env.sys.spawn(burst_sink, n, &done);
  std::vector<caf::actor> all{sink};
  for (int i = 0; i < senders; ++i) {
    all.push_back(env.sys.spawn(burst_source, sink));
  }
  std::size_t before = bench::proc_status_bytes("VmRSS");
  bench::reset_peak_rss();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= senders; ++i) {
    caf::anon_send(all[i], start_atom::value, n / senders);
  }
  fut.wait();
  auto secs = bench::seconds_since(t0);
  std::size_t peak = bench::proc_status_bytes("VmHWM");
  kill_all(all);
  return {static_cast<double>(n) / secs,
          peak > before
              ? static_cast<double>(peak - before) / static_cast<double>(n)
              : 0.0};
}

// -- ask ----------------------------------------------------------------------

caf::behavior responder() {
  return {
      [](caf::ping_atom) { return 42; },
  };
}

// Performs `m` sequential request/response round trips to `responder`.
class asker : public caf::event_based_actor {
 public:
  asker(caf::actor_config& cfg, caf::actor responder, std::int64_t m,
        std::promise<void>* finished)
      : caf::event_based_actor(cfg),
        responder_(std::move(responder)),
        m_(m),
        done_(finished) {}

  caf::behavior make_behavior() override {
    return {
        [this](start_atom) { next(); },
    };
  }

 private:
  void next() {
    request(responder_, caf::infinite, caf::ping_atom::value)
        .then(
            [this](int) {
              if (++completed_ == m_) {
                done_->set_value();
              } else {
                next();
              }
            },
            [](caf::error& err) {
              std::fprintf(stderr, "ask failed: %s\n", to_string(err).c_str());
              std::abort();
            });
  }

  caf::actor responder_;
  std::int64_t m_;
  std::promise<void>* done_;
  std::int64_t completed_ = 0;
};

double run_ask() {
  caf_env env;
  auto m = scaled(kAskTrips);
  std::promise<void> done;
  auto fut = done.get_future();
  auto resp = env.sys.spawn(responder);
  auto a = env.sys.spawn<asker>(resp, m, &done);
  auto t0 = std::chrono::steady_clock::now();
  caf::anon_send(a, start_atom::value);
  fut.wait();
  auto secs = bench::seconds_since(t0);
  kill_all({resp, a});
  return secs * 1e9 / static_cast<double>(m);
}

double run_ask_blocking() {
  caf_env env;
  auto m = scaled(kBlockingTrips);
  auto resp = env.sys.spawn(responder);
  double secs = 0;
  {
    caf::scoped_actor self{env.sys};
    auto fail = [](caf::error& err) {
      std::fprintf(stderr, "blocking ask failed: %s\n", to_string(err).c_str());
      std::abort();
    };
    // One warm-up round trip, as in the courier driver.
    self->request(resp, caf::infinite, caf::ping_atom::value)
        .receive([](int) {}, fail);
    auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < m; ++i) {
      self->request(resp, caf::infinite, caf::ping_atom::value)
          .receive([](int) {}, fail);
    }
    secs = bench::seconds_since(t0);
  }
  kill_all({resp});
  return secs * 1e9 / static_cast<double>(m);
}

// -- spawn --------------------------------------------------------------------

caf::behavior trivial(caf::event_based_actor*, std::atomic<std::int64_t>* up) {
  up->fetch_add(1, std::memory_order_relaxed);
  return {
      [](int x) { return x; },
      [](caf::ping_atom) { return 1; },
  };
}

// Spawns the actors from main. `bytes` selects the result: actors/s (spawned
// and initialized), or heap bytes per actor once every actor has initialized.
double run_spawn(bool bytes) {
  caf_env env;
  auto count = scaled(kSpawnActors);
  std::atomic<std::int64_t> up{0};
  std::vector<caf::actor> handles;
  handles.reserve(count);
  auto heap0 = bench::heap_in_use();
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < count; ++i) {
    handles.push_back(env.sys.spawn(trivial, &up));
  }
  // CAF initializes (runs the behavior factory of) each actor on a worker;
  // like the courier driver, the time counts until every actor has started.
  while (up.load(std::memory_order_relaxed) < count) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  auto secs = bench::seconds_since(t0);
  auto heap1 = bench::heap_in_use();
  kill_all(handles);
  handles.clear();
  env.sys.await_all_actors_done();
  if (bytes) {
    return (static_cast<double>(heap1) - static_cast<double>(heap0)) /
           static_cast<double>(count);
  }
  return static_cast<double>(count) / secs;
}

// -- ring ---------------------------------------------------------------------

struct ring_state {
  caf::actor next;
};

caf::behavior ring_member(caf::stateful_actor<ring_state>* self,
                          std::int64_t hops, std::promise<void>* done) {
  return {
      [=](next_atom, caf::actor next) { self->state.next = std::move(next); },
      [=](int hop) {
        if (hop == hops) {
          done->set_value();
        } else {
          self->send(self->state.next, hop + 1);
        }
      },
  };
}

double run_ring() {
  caf_env env;
  auto hops = scaled(kRingHops);
  if (hops > INT32_MAX) {
    std::fprintf(stderr, "ring: too many hops for an int token\n");
    std::exit(2);
  }
  std::promise<void> done;
  auto fut = done.get_future();
  std::vector<caf::actor> ring;
  ring.reserve(kRingSize);
  for (int i = 0; i < kRingSize; ++i) {
    ring.push_back(env.sys.spawn(ring_member, hops, &done));
  }
  for (int i = 0; i < kRingSize; ++i) {
    caf::anon_send(ring[i], next_atom::value, ring[(i + 1) % kRingSize]);
  }
  auto t0 = std::chrono::steady_clock::now();
  caf::anon_send(ring[0], 0);  // the token has made 0 hops
  fut.wait();
  auto secs = bench::seconds_since(t0);
  kill_all(ring);  // breaks the reference cycle through ring_state::next
  return static_cast<double>(hops) / secs;
}

// -- pub/sub (CAF local groups) -----------------------------------------------
//
// The workloads of benchmarks/pubsub.cpp. A subscriber joins its group in
// its init, reports that it joined, counts `expect` int64 events and then
// arrives at the finish line.

constexpr double kFanoutEvents = 10'000;
constexpr double kManyEvents = 100'000;
constexpr double kIdleEvents = 100'000;

struct finish_line {
  std::atomic<std::int64_t> joined{0};
  std::atomic<std::int64_t> left{0};
  std::promise<void> done;
};

caf::behavior group_subscriber(caf::event_based_actor* self, caf::group g,
                               std::int64_t expect, finish_line* line) {
  self->join(g);
  line->joined.fetch_add(1);
  auto seen = std::make_shared<std::int64_t>(0);
  return {[=](std::int64_t) {
    if (++*seen == expect && line->left.fetch_sub(1) == 1) {
      line->done.set_value();
    }
  }};
}

void wait_joined(const finish_line& line, std::int64_t n) {
  while (line.joined.load() < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

double run_fanout() {
  caf_env env;
  auto events = scaled(kFanoutEvents);
  constexpr std::int64_t subs = 1000;
  auto g = env.sys.groups().get_local("bench.fanout");
  finish_line line;
  line.left = subs;
  auto fut = line.done.get_future();
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < subs; ++i) {
    all.push_back(env.sys.spawn(group_subscriber, g, events, &line));
  }
  wait_joined(line, subs);
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t e = 0; e < events; ++e) {
    caf::anon_send(g, e);
  }
  fut.wait();
  auto secs = bench::seconds_since(t0);
  kill_all(all);
  return static_cast<double>(events * subs) / secs;
}

double run_many() {
  caf_env env;
  constexpr std::int64_t subjects = 100;
  constexpr std::int64_t per_subject = 10;
  constexpr std::int64_t publishers = 4;
  auto per_pub = scaled(kManyEvents) / publishers;
  auto per_sub_events = publishers * (per_pub / subjects);
  finish_line line;
  line.left = subjects * per_subject;
  auto fut = line.done.get_future();
  std::vector<caf::group> groups;
  std::vector<caf::actor> all;
  for (std::int64_t s = 0; s < subjects; ++s) {
    groups.push_back(
        env.sys.groups().get_local("bench.many." + std::to_string(s)));
    for (std::int64_t k = 0; k < per_subject; ++k) {
      all.push_back(env.sys.spawn(group_subscriber, groups.back(),
                                  per_sub_events, &line));
    }
  }
  wait_joined(line, subjects * per_subject);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pubs;
  for (std::int64_t p = 0; p < publishers; ++p) {
    pubs.emplace_back([&] {
      std::int64_t n = (per_pub / subjects) * subjects;
      for (std::int64_t i = 0; i < n; ++i) {
        caf::anon_send(groups[i % subjects], i);
      }
    });
  }
  for (auto& t : pubs) {
    t.join();
  }
  fut.wait();
  auto secs = bench::seconds_since(t0);
  kill_all(all);
  return static_cast<double>(per_sub_events * subjects * per_subject) / secs;
}

// CAF groups have no wildcards: the idle subscriptions are 10,000 other
// groups, and the publish goes to the one group with a subscriber.
double run_idle_patterns() {
  caf_env env;
  auto events = scaled(kIdleEvents);
  constexpr std::int64_t idle = 10000;
  finish_line line;
  line.left = 1;
  auto fut = line.done.get_future();
  finish_line never;
  never.left = -1;
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < idle; ++i) {
    auto g = env.sys.groups().get_local("other." + std::to_string(i));
    all.push_back(env.sys.spawn(group_subscriber, g, 1, &never));
  }
  auto hit = env.sys.groups().get_local("bench.idle.hit");
  all.push_back(env.sys.spawn(group_subscriber, hit, events, &line));
  wait_joined(never, idle);
  wait_joined(line, 1);
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t e = 0; e < events; ++e) {
    caf::anon_send(hit, e);
  }
  fut.wait();
  auto secs = bench::seconds_since(t0);
  kill_all(all);
  return secs * 1e9 / static_cast<double>(events);
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = bench::parse(argc, argv);
  g_scale = opts.scale;
  std::vector<bench::workload> ws{
      {"burst_1to1", "msgs/s",
       [] {
         return run_burst(1).per_second;
       }},
      {"burst_4to1", "msgs/s",
       [] {
         return run_burst(4).per_second;
       }},
      {"burst_mem", "B/msg",
       [] {
         return run_burst(1).bytes_per_message;
       }},
      {"tell_same_loop", "msgs/s",
       [] {
         return run_tell(1);
       }},
      {"tell_cross_loop", "msgs/s",
       [] {
         return run_tell(1);
       }},
      {"tell_4to1", "msgs/s",
       [] {
         return run_tell(4);
       }},
      {"ask_default", "ns/rt",
       [] {
         return run_ask();
       }},
      {"ask_same_loop", "ns/rt",
       [] {
         return run_ask();
       }},
      {"ask_cross_loop", "ns/rt",
       [] {
         return run_ask();
       }},
      {"ask_blocking", "ns/rt",
       [] {
         return run_ask_blocking();
       }},
      {"spawn", "actors/s",
       [] {
         return run_spawn(false);
       }},
      {"spawn_bytes", "B/actor",
       [] {
         return run_spawn(true);
       }},
      {"ring", "hops/s",
       [] {
         return run_ring();
       }},
      {"ring_placed", "hops/s",  // CAF places nothing: the same ring
       [] {
         return run_ring();
       }},
      {"fanout_1000", "deliveries/s",
       [] {
         return run_fanout();
       }},
      {"pubsub_many", "deliveries/s",
       [] {
         return run_many();
       }},
      {"publish_10k_idle", "ns/pub",
       [] {
         return run_idle_patterns();
       }},
  };
  return bench::run_all("caf", opts, ws);
}
