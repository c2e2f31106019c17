// Pub/sub workloads (the same ones run by caf_bench on CAF local groups):
//   fanout_1000        1 publisher, 1,000 subscribers of one subject,
//                      10,000 events (10M deliveries); deliveries/s
//   pubsub_many        4 publisher threads, 100 subjects with 10
//                      subscribers each, 100,000 events (1M deliveries)
//   publish_10k_idle   publish cost with 10,000 subscriptions that do not
//                      match (and one that does); ns per publish, 100,000
//                      events, until the matching subscriber has them all

#include "common.hpp"

#include <atomic>
#include <string>
#include <thread>

namespace bench {

namespace {

// Counts `expect` events, then arrives at the finish line.
class subscriber : public courier::actor {
 public:
  subscriber(std::uint64_t expect, std::atomic<std::uint64_t>* left,
             done_flag* done)
      : expect_(expect), left_(left), done_(done) {}

  courier::behavior behavior() override {
    return {[this](const courier::event<std::int64_t>&) {
      if (++seen_ == expect_ && left_->fetch_sub(1) == 1) {
        done_->set();
      }
    }};
  }

 private:
  std::uint64_t expect_;
  std::atomic<std::uint64_t>* left_;
  done_flag* done_;
  std::uint64_t seen_ = 0;
};

void wait_subscribed(const courier::router& r, std::size_t n) {
  while (r.stats().subscriptions.size() < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

double run_fanout(std::uint64_t events, std::size_t subs) {
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  std::atomic<std::uint64_t> left{subs};
  done_flag done;
  for (std::size_t i = 0; i < subs; ++i) {
    r.subscribe<std::int64_t>("bench.fanout",
                              sys.spawn<subscriber>(events, &left, &done),
                              {.max_in_flight = events});
  }
  wait_subscribed(r, subs);
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t e = 0; e < events; ++e) {
    r.publish("bench.fanout", static_cast<std::int64_t>(e));
  }
  done.wait();
  return static_cast<double>(events * subs) / seconds_since(t0);
}

double run_many(std::uint64_t events) {
  constexpr std::size_t subjects = 100;
  constexpr std::size_t per_subject = 10;
  constexpr std::size_t publishers = 4;
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  std::uint64_t per_pub = events / publishers;
  // Publisher p publishes event i on subject (i % subjects): each subject
  // gets per_pub / subjects from each publisher.
  std::uint64_t per_sub_events = publishers * (per_pub / subjects);
  std::atomic<std::uint64_t> left{subjects * per_subject};
  done_flag done;
  for (std::size_t s = 0; s < subjects; ++s) {
    for (std::size_t k = 0; k < per_subject; ++k) {
      r.subscribe<std::int64_t>(
          "bench.many." + std::to_string(s),
          sys.spawn<subscriber>(per_sub_events, &left, &done),
          {.max_in_flight = per_sub_events});
    }
  }
  wait_subscribed(r, subjects * per_subject);
  std::vector<std::string> names;
  for (std::size_t s = 0; s < subjects; ++s) {
    names.push_back("bench.many." + std::to_string(s));
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pubs;
  for (std::size_t p = 0; p < publishers; ++p) {
    pubs.emplace_back([&] {
      std::uint64_t n = (per_pub / subjects) * subjects;
      for (std::uint64_t i = 0; i < n; ++i) {
        r.publish(names[i % subjects], static_cast<std::int64_t>(i));
      }
    });
  }
  for (auto& t : pubs) {
    t.join();
  }
  done.wait();
  return static_cast<double>(per_sub_events * subjects * per_subject) /
         seconds_since(t0);
}

double run_idle_patterns(std::uint64_t events, std::size_t idle) {
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  std::atomic<std::uint64_t> left{1};
  done_flag done;
  std::atomic<std::uint64_t> never{~std::uint64_t{0}};
  done_flag never_done;
  // Spread over literal, '*' and '>' patterns of other subjects.
  for (std::size_t i = 0; i < idle; ++i) {
    std::string p = i % 3 == 0   ? "other." + std::to_string(i) + ".*"
                    : i % 3 == 1 ? "other." + std::to_string(i) + ".>"
                                 : "bench.idle." + std::to_string(i);
    r.subscribe<std::int64_t>(p, sys.spawn<subscriber>(1, &never, &never_done));
  }
  r.subscribe<std::int64_t>("bench.idle.hit",
                            sys.spawn<subscriber>(events, &left, &done),
                            {.max_in_flight = events});
  wait_subscribed(r, idle + 1);
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t e = 0; e < events; ++e) {
    r.publish("bench.idle.hit", static_cast<std::int64_t>(e));
  }
  done.wait();
  return seconds_since(t0) * 1e9 / static_cast<double>(events);
}

}  // namespace

void add_pubsub(std::vector<workload>& ws, const options& o) {
  std::uint64_t fan_events = scaled(o.scale, 10'000);
  std::uint64_t many_events = scaled(o.scale, 100'000);
  std::uint64_t idle_events = scaled(o.scale, 100'000);
  ws.push_back({"fanout_1000", "deliveries/s", [fan_events] {
                  return run_fanout(fan_events, 1000);
                }});
  ws.push_back({"pubsub_many", "deliveries/s", [many_events] {
                  return run_many(many_events);
                }});
  ws.push_back({"publish_10k_idle", "ns/pub", [idle_events] {
                  return run_idle_patterns(idle_events, 10000);
                }});
}

}  // namespace bench
