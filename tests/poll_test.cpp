// Tests of polling actors: option checks, change detection, stop
// conditions, the exact backoff sequence, jitter bounds, timeouts, no
// overlapping polls with a slow asynchronous source, ask sources, stats.
#define BOOST_TEST_MODULE poll
#include "courier/poll.hpp"

#include "courier/courier.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using courier::test::box;
using courier::test::countdown;

// Collects what a poller tells its sink actor.
struct sink_log {
  std::mutex mutex;
  std::vector<int> values;
  std::vector<std::uint64_t> changes;
  std::string stop_reason;
  countdown stopped{1};

  std::vector<int> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return values;
  }
};

class sink_actor : public courier::actor {
 public:
  explicit sink_actor(sink_log* log) : log_(log) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const courier::polled<int>& p) {
              std::lock_guard<std::mutex> lock(log_->mutex);
              log_->values.push_back(p.value);
              log_->changes.push_back(p.change);
            },
            [this](const courier::poll_stopped& s) {
              {
                std::lock_guard<std::mutex> lock(log_->mutex);
                log_->stop_reason = s.reason;
              }
              log_->stopped.count_down();
            }};
  }

 private:
  sink_log* log_;
};

// Records on_outcome calls.
struct outcome_log {
  std::mutex mutex;
  std::vector<courier::poll_outcome> items;
  std::function<void(const courier::poll_outcome&)> hook() {
    return [this](const courier::poll_outcome& o) {
      std::lock_guard<std::mutex> lock(mutex);
      items.push_back(o);
    };
  }
  std::vector<courier::poll_outcome> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return items;
  }
};

struct no_equality {
  int v = 0;
};

struct get_next {};
// Answers get_next with 1, 2, 3, ...
class counter_actor : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](get_next) {
      return ++n_;
    }};
  }

 private:
  int n_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(bad_options_are_rejected_at_construction) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto source = [] {
    return 1;
  };
  auto sink = [](const int&) {
  };
  auto spawn = [&](courier::poll_options<int> o) {
    return courier::spawn_poller<int>(sys, source, sink, std::move(o));
  };
  BOOST_CHECK_THROW(spawn({.interval = 0ms}), std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.interval = -5ms}), std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.jitter = 1.0}), std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.jitter = -0.1}), std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.interval = 1s, .backoff_cap = 500ms}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.timeout = 0ms}), std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.backoff_factor = 0.5}), std::invalid_argument);
  BOOST_CHECK_THROW(spawn({.initial_delay = -1ms}), std::invalid_argument);
  try {
    (void)spawn({.interval = 0ms});
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("interval") != std::string::npos);
  }
  // Change detection needs equality.
  BOOST_CHECK_THROW(
      courier::spawn_poller<no_equality>(
          sys, [] { return no_equality{}; }, [](const no_equality&) {}),
      std::invalid_argument);
  BOOST_CHECK_NO_THROW(courier::spawn_poller<no_equality>(
      sys, [] { return no_equality{}; }, [](const no_equality&) {},
      {.max_polls = 1, .changes_only = false}));
  BOOST_CHECK_NO_THROW(
      spawn({.interval = 1s, .backoff_cap = 1s, .max_polls = 1}));
}

BOOST_AUTO_TEST_CASE(only_changes_are_emitted_and_the_stop_condition_ends_it) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  const std::vector<int> script{1, 1, 2, 2, 2, 3, 3, 4};
  auto calls = std::make_shared<std::size_t>(0);
  auto poller = courier::spawn_poller<int>(
      sys, [script, calls] { return script.at((*calls)++); }, sink,
      {.interval = 1ms, .stop_when = [](const int& v) {
         return v == 3;
       }});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  BOOST_TEST(log.snapshot() == (std::vector<int>{1, 2, 3}));
  {
    std::lock_guard<std::mutex> lock(log.mutex);
    BOOST_TEST(log.changes == (std::vector<std::uint64_t>{1, 2, 3}));
    BOOST_TEST(log.stop_reason == "the stop condition holds");
  }
  // The poller stopped: an ask to it fails with target_dead.
  BOOST_TEST(courier::test::poll_until(
      [&] {
        try {
          (void)poller.ask<courier::poll_stats>(courier::get_poll_stats{})
              .get();
          return false;
        } catch (const courier::ask_error& e) {
          return e.value() == courier::errc::target_dead;
        }
      },
      10s));
}

BOOST_AUTO_TEST_CASE(every_value_is_emitted_without_change_detection) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  std::vector<int> seen;  // the callable sink runs on the poller's loop
  box<std::vector<int>> done;
  courier::spawn_poller<int>(
      sys, [] { return 7; },
      [&](const int& v) {
        seen.push_back(v);
        if (seen.size() == 4) {
          done.set(seen);
        }
      },
      {.interval = 1ms, .max_polls = 4, .changes_only = false});
  BOOST_REQUIRE(done.wait_for(10s));
  BOOST_TEST(done.get() == (std::vector<int>{7, 7, 7, 7}));
}

// A source that fails four times, succeeds, then fails once: the delays
// are exactly interval * 2^n, capped, and reset by the success.
BOOST_AUTO_TEST_CASE(backoff_follows_the_exact_sequence_and_resets) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  outcome_log outcomes;
  std::vector<clock_type::time_point> calls;  // on the poller's loop
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  courier::spawn_poller<int>(
      sys,
      [&calls]() -> int {
        calls.push_back(clock_type::now());
        std::size_t n = calls.size();
        if (n <= 4 || n == 6) {
          throw std::runtime_error("source down #" + std::to_string(n));
        }
        return 42;
      },
      sink,
      {.interval = 10ms,
       .backoff_factor = 2.0,
       .backoff_cap = 50ms,
       .max_polls = 7,
       .on_outcome = outcomes.hook()});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  auto got = outcomes.snapshot();
  BOOST_REQUIRE(got.size() == 7u);
  const std::vector<long> expected{20, 40, 50, 50, 10, 20};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST(got[i].next_delay.count() == expected[i]);
    BOOST_TEST(got[i].ok == (i == 4));
  }
  BOOST_TEST(got[0].error == "source down #1");
  BOOST_TEST(got[6].stopping);
  // The delays were really waited (1 ms for uv's whole-millisecond clock).
  BOOST_REQUIRE(calls.size() == 7u);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST((calls[i + 1] - calls[i]) >=
               std::chrono::milliseconds(expected[i] - 1));
  }
  BOOST_TEST(log.snapshot() == (std::vector<int>{42}));
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_its_bounds_and_spreads) {
  courier::detail::poll_schedule s({.interval = 100ms,
                                    .initial_delay = 20ms,
                                    .jitter = 0.5,
                                    .timeout = 1s,
                                    .backoff_factor = 2.0,
                                    .backoff_cap = 400ms,
                                    .seed = 12345});
  long lo = 1000;
  long hi = 0;
  double sum = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    long d = s.after_success().count();
    BOOST_REQUIRE(d >= 50);
    BOOST_REQUIRE(d <= 150);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    sum += static_cast<double>(d);
  }
  BOOST_TEST(lo <= 55);
  BOOST_TEST(hi >= 145);
  BOOST_TEST(sum / n > 95.0);
  BOOST_TEST(sum / n < 105.0);
  for (int i = 0; i < 1000; ++i) {
    long f = s.first().count();
    BOOST_REQUIRE(f >= 20);
    BOOST_REQUIRE(f < 70);
    long b = s.after_failure(5).count();  // capped at 400, then jittered
    BOOST_REQUIRE(b >= 200);
    BOOST_REQUIRE(b <= 600);
  }
}

BOOST_AUTO_TEST_CASE(a_jittered_poller_uses_jittered_delays) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  outcome_log outcomes;
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  courier::spawn_poller<int>(sys, [] { return 1; }, sink,
                             {.interval = 4ms,
                              .jitter = 0.5,
                              .max_polls = 20,
                              .on_outcome = outcomes.hook()});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  auto got = outcomes.snapshot();
  BOOST_REQUIRE(got.size() == 20u);
  for (std::size_t i = 0; i + 1 < got.size(); ++i) {
    BOOST_TEST(got[i].next_delay.count() >= 2);
    BOOST_TEST(got[i].next_delay.count() <= 6);
  }
}

BOOST_AUTO_TEST_CASE(max_attempts_gives_up_with_a_reason) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  courier::spawn_poller<int>(
      sys, []() -> int { throw std::runtime_error("no route to host"); }, sink,
      {.interval = 1ms, .max_attempts = 3});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  std::lock_guard<std::mutex> lock(log.mutex);
  BOOST_TEST(log.stop_reason ==
             "gave up after 3 failed attempts: no route to host");
  BOOST_TEST(log.values.empty());
}

// A slow asynchronous source completed from another thread: polls never
// overlap, whatever the interval.
BOOST_AUTO_TEST_CASE(a_slow_async_source_never_overlaps) {
  courier::test::time_limit guard{60s};
  courier::system sys{courier::system_config{.loops = 2}};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::mutex threads_mutex;
  std::vector<std::thread> threads;
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  auto value = std::make_shared<std::atomic<int>>(0);
  courier::spawn_poller<int>(
      sys,
      [&, value](courier::poll_completion<int> done) {
        int now = ++in_flight;
        int seen = max_in_flight.load();
        while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
        }
        std::lock_guard<std::mutex> lock(threads_mutex);
        threads.emplace_back([&in_flight, value, done] {
          std::this_thread::sleep_for(15ms);  // the slow work itself
          --in_flight;
          done.succeed(++*value);
        });
      },
      sink, {.interval = 1ms, .max_polls = 6});
  BOOST_REQUIRE(log.stopped.wait_for(30s));
  {
    std::lock_guard<std::mutex> lock(threads_mutex);
    for (auto& t : threads) {
      t.join();
    }
  }
  BOOST_TEST(max_in_flight.load() == 1);
  BOOST_TEST(log.snapshot() == (std::vector<int>{1, 2, 3, 4, 5, 6}));
}

// The first poll never completes in time; its late completion is ignored.
BOOST_AUTO_TEST_CASE(
    a_poll_past_its_timeout_fails_and_its_late_result_is_dropped) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  auto first = std::make_shared<std::optional<courier::poll_completion<int>>>();
  outcome_log outcomes;
  courier::spawn_poller<int>(
      sys,
      [first](courier::poll_completion<int> done) {
        if (!*first) {
          first->emplace(done);  // held back past the timeout
          return;
        }
        (*first)->succeed(-1);  // too late: must be ignored
        done.succeed(5);
      },
      sink,
      {.interval = 1ms,
       .timeout = 20ms,
       .max_polls = 2,
       .on_outcome = outcomes.hook()});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  BOOST_TEST(log.snapshot() == (std::vector<int>{5}));
  auto got = outcomes.snapshot();
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(!got[0].ok);
  BOOST_TEST(got[0].error == "timed out");
  BOOST_TEST(got[1].ok);
}

BOOST_AUTO_TEST_CASE(an_ask_source_polls_another_actor_and_stats_count) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto counter = sys.spawn<counter_actor>();
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  courier::spawn_poller<int>(sys, courier::poll_ask<int>(counter, get_next{}),
                             sink,
                             {.interval = 1ms, .stop_when = [](const int& v) {
                                return v == 5;
                              }});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  BOOST_TEST(log.snapshot() == (std::vector<int>{1, 2, 3, 4, 5}));

  // Stats of a live poller: one that fails every other poll.
  auto n = std::make_shared<int>(0);
  auto flaky = courier::spawn_poller<int>(
      sys,
      [n]() -> int {
        if (++*n % 2 == 0) {
          throw std::runtime_error("flaky");
        }
        return *n;
      },
      [](const int&) {}, {.interval = 1ms, .backoff_factor = 1.0});
  courier::poll_stats st;
  BOOST_TEST(courier::test::poll_until(
      [&] {
        st = flaky.ask<courier::poll_stats>(courier::get_poll_stats{}).get();
        return st.polls >= 6 && !st.in_flight;
      },
      10s));
  BOOST_TEST(st.successes + st.failures == st.polls);
  BOOST_TEST(st.failures >= 2u);
  BOOST_TEST(st.changes == st.successes);
  BOOST_TEST(st.last_success.has_value());
  BOOST_TEST(st.current_backoff.count() == 1);
  BOOST_TEST(st.timeouts == 0u);
}

BOOST_AUTO_TEST_CASE(an_ask_source_failure_counts_as_a_failed_poll) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto gone = sys.spawn<counter_actor>();
  sys.stop(gone);
  BOOST_TEST(courier::test::poll_until(
      [&] { return sys.metrics().actors_stopped == 1; }, 10s));
  sink_log log;
  auto sink = sys.spawn<sink_actor>(&log);
  courier::spawn_poller<int>(sys, courier::poll_ask<int>(gone, get_next{}),
                             sink, {.interval = 1ms, .max_attempts = 2});
  BOOST_REQUIRE(log.stopped.wait_for(10s));
  std::lock_guard<std::mutex> lock(log.mutex);
  BOOST_TEST(log.stop_reason.find("gave up after 2 failed attempts") == 0u);
}
