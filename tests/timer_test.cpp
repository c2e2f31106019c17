// Tests of actor timers: after/every, keyed replacement, cancellation that
// beats a queued tick, auto-cancel on stop, no pile-up of periodic ticks,
// 100,000 timers on one loop, bad input.
#define BOOST_TEST_MODULE timer
#include "courier/timer.hpp"

#include "courier/courier.hpp"

#include "loop.hpp"
#include "support/scale.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using courier::test::box;
using courier::test::countdown;

struct tick {
  int n = 0;
};
struct filler {};
struct unknown_message {};

class probe;
// Runs a function inside the probe, on its loop.
struct run {
  std::function<void(probe&)> fn;
};

// An actor whose code the test writes in lambdas.
class probe : public courier::actor {
 public:
  using hook = std::function<void(probe&, const tick&)>;
  explicit probe(hook on_tick = {}, std::function<void(probe&)> on_stop = {})
      : on_tick_(std::move(on_tick)), on_stop_(std::move(on_stop)) {}

  using courier::actor::after;
  using courier::actor::ask;
  using courier::actor::cancel_timer;
  using courier::actor::cancel_timers;
  using courier::actor::every;
  using courier::actor::make_response_promise;
  using courier::actor::self;
  using courier::actor::stop;
  using courier::actor::timer_active;

  int ticks = 0;
  int fillers = 0;
  courier::timer saved;
  courier::response_promise<int> held;

 protected:
  courier::behavior behavior() override {
    return {[this](const run& r) { r.fn(*this); },
            [this](const tick& t) {
              ++ticks;
              if (on_tick_) {
                on_tick_(*this, t);
              }
            },
            [this](filler) {
              ++fillers;
            }};
  }
  void on_stop() override {
    if (on_stop_) {
      on_stop_(*this);
    }
  }

 private:
  hook on_tick_;
  std::function<void(probe&)> on_stop_;
};

void spin_for(std::chrono::milliseconds d) {
  auto end = clock_type::now() + d;
  while (clock_type::now() < end) {
  }
}

// Lets the 1 ms timer just started fall due while this handler runs, then
// queues enough messages that the loop returns to libuv (and queues the
// tick) before whatever the caller tells next is handled.
void queue_behind_fillers(probe& p) {
  spin_for(5ms);
  for (int i = 0; i < 20000; ++i) {
    p.self().tell(filler{});
  }
}

bool tick_queued(const courier::timer& t) {
  return courier::detail::loop::current()->timer_tick_queued(
      courier::detail::timer_access::id(t));
}

std::uint64_t pending_timers(const courier::system& sys) {
  std::uint64_t n = 0;
  for (const auto& l : sys.metrics().loops) {
    n += l.timers;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(after_delivers_a_message_once_after_the_delay) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  box<clock_type::duration> first;
  box<int> at_fence;
  std::atomic<int> wrong{0};
  auto start = std::make_shared<clock_type::time_point>();
  auto ref = sys.spawn<probe>([&, start](probe& p, const tick& t) {
    wrong += t.n != 7 ? 1 : 0;
    if (p.ticks == 1) {
      first.set(clock_type::now() - *start);
    }
  });
  ref.tell(run{[&, start](probe& p) {
    *start = clock_type::now();
    p.after(30ms, tick{7});
    // A fence well after the timer: a second tick would come before it.
    p.after(120ms, [&p, &at_fence] { at_fence.set(p.ticks); });
  }});
  BOOST_REQUIRE(first.wait_for(10s));
  // uv's clock counts whole milliseconds: allow 1 ms of truncation.
  BOOST_TEST(first.get() >= 29ms);
  BOOST_REQUIRE(at_fence.wait_for(10s));
  BOOST_TEST(at_fence.get() == 1);
  BOOST_TEST(wrong.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_timer_function_runs_in_its_actors_context) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  box<bool> ok;
  auto ref = sys.spawn<probe>();
  ref.tell(run{[&ok](probe& p) {
    auto thread = std::this_thread::get_id();
    p.after(1ms, [&p, &ok, thread] {
      ok.set(std::this_thread::get_id() == thread && p.self().valid() &&
             courier::detail::loop::current()->current_actor() == &p);
    });
  }});
  BOOST_REQUIRE(ok.wait_for(10s));
  BOOST_TEST(ok.get());
}

BOOST_AUTO_TEST_CASE(every_repeats_until_cancelled_and_nothing_follows) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  box<bool> cancelled;
  box<int> at_fence;
  auto ref = sys.spawn<probe>([&](probe& p, const tick&) {
    if (p.ticks == 5) {
      cancelled.set(p.saved.cancel() && !p.saved.active());
      p.after(60ms, [&p, &at_fence] { at_fence.set(p.ticks); });
    }
  });
  ref.tell(run{[](probe& p) {
    p.saved = p.every(2ms, tick{1});
  }});
  BOOST_REQUIRE(cancelled.wait_for(10s));
  BOOST_TEST(cancelled.get());
  BOOST_REQUIRE(at_fence.wait_for(10s));
  BOOST_TEST(at_fence.get() == 5);
  BOOST_TEST(pending_timers(sys) == 0u);
}

// The tick is already in the mailbox (behind fillers) when the cancel is
// handled: it must be dropped, not delivered.
BOOST_AUTO_TEST_CASE(a_cancel_beats_a_tick_already_queued) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  box<bool> queued_at_cancel;
  box<int> at_fence;
  auto ref = sys.spawn<probe>();
  ref.tell(run{[&](probe& p) {
    p.saved = p.after(1ms, tick{1});
    queue_behind_fillers(p);
    p.self().tell(run{[&](probe& q) {
      queued_at_cancel.set(tick_queued(q.saved) && q.saved.cancel());
      q.after(30ms, [&q, &at_fence] { at_fence.set(q.ticks); });
    }});
  }});
  BOOST_REQUIRE(queued_at_cancel.wait_for(10s));
  BOOST_TEST(queued_at_cancel.get());
  BOOST_REQUIRE(at_fence.wait_for(10s));
  BOOST_TEST(at_fence.get() == 0);
}

BOOST_AUTO_TEST_CASE(a_keyed_timer_replaces_the_old_one_and_its_queued_tick) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  std::vector<int> seen;  // written on the loop, read after the fence
  box<bool> queued_at_replace;
  box<bool> done;
  auto ref = sys.spawn<probe>([&](probe& p, const tick& t) {
    seen.push_back(t.n);
    if (t.n == 2) {
      bool inactive = !p.timer_active("k");
      p.after(30ms, [&done, inactive] { done.set(inactive); });
    }
  });
  ref.tell(run{[&](probe& p) {
    p.saved = p.every("k", 1ms, tick{1});
    queue_behind_fillers(p);
    p.self().tell(run{[&](probe& q) {
      bool queued = tick_queued(q.saved);
      auto fresh = q.after("k", 5ms, tick{2});
      queued_at_replace.set(queued && !q.saved.active() && fresh.active() &&
                            q.timer_active("k"));
    }});
  }});
  BOOST_REQUIRE(queued_at_replace.wait_for(10s));
  BOOST_TEST(queued_at_replace.get());
  BOOST_REQUIRE(done.wait_for(10s));
  BOOST_TEST(done.get());
  BOOST_TEST(seen == std::vector<int>{2});
}

BOOST_AUTO_TEST_CASE(cancel_timer_by_key_and_cancel_timers) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  box<int> at_fence;
  box<std::vector<bool>> checks;
  auto ref = sys.spawn<probe>();
  ref.tell(run{[&](probe& p) {
    p.every("a", 1ms, tick{1});
    p.after("b", 1ms, tick{2});
    p.after(1ms, tick{3});
    std::vector<bool> c;
    c.push_back(p.cancel_timer("a"));
    c.push_back(!p.cancel_timer("a"));
    c.push_back(!p.timer_active("a"));
    c.push_back(p.timer_active("b"));
    p.cancel_timers();
    c.push_back(!p.timer_active("b"));
    checks.set(c);
    p.after(40ms, [&p, &at_fence] { at_fence.set(p.ticks); });
  }});
  BOOST_REQUIRE(checks.wait_for(10s));
  BOOST_TEST(checks.get() == std::vector<bool>(5, true),
             boost::test_tools::per_element());
  BOOST_REQUIRE(at_fence.wait_for(10s));
  BOOST_TEST(at_fence.get() == 0);
}

// Many actors with running timers stop; no timer code runs on a dead actor
// (AddressSanitizer would see the use after free) and none is left behind.
BOOST_AUTO_TEST_CASE(timers_end_when_their_actor_stops) {
  courier::test::time_limit guard{60s};
  courier::system sys{courier::system_config{.loops = 2}};
  const int n = 200;
  std::atomic<int> after_stop{0};
  countdown stopped(n);
  countdown ticking(n);
  std::vector<courier::actor_ref> refs;
  for (int i = 0; i < n; ++i) {
    refs.push_back(sys.spawn<probe>(
        [&](probe& p, const tick&) {
          if (p.ticks == 3) {
            ticking.count_down();
          }
        },
        [&](probe& p) {
          // A timer started while stopping never fires either.
          p.after(1ms, [&after_stop] { ++after_stop; });
          stopped.count_down();
        }));
    refs.back().tell(run{[&after_stop](probe& p) {
      auto state = std::make_shared<std::vector<int>>(64, 1);
      p.every(1ms, tick{1});
      p.every(1ms, [&p, state] { p.fillers += (*state)[0]; });
      p.after(1h, [&after_stop] { ++after_stop; });
    }});
  }
  BOOST_REQUIRE(ticking.wait_for(20s));
  for (auto& r : refs) {
    r.tell(run{[](probe& p) {
      p.stop();
    }});
  }
  BOOST_REQUIRE(stopped.wait_for(20s));
  BOOST_TEST(
      courier::test::poll_until([&] { return pending_timers(sys) == 0; }, 10s));
  // A fence on another actor, later than any of the stopped timers.
  box<bool> fence;
  auto other = sys.spawn<probe>();
  other.tell(run{[&fence](probe& p) {
    p.after(30ms, [&fence] { fence.set(true); });
  }});
  BOOST_REQUIRE(fence.wait_for(10s));
  BOOST_TEST(after_stop.load() == 0);
}

BOOST_AUTO_TEST_CASE(one_hundred_thousand_timers_on_one_loop) {
  courier::test::time_limit guard{120s};
  courier::system sys{courier::system_config{.loops = 1}};
  const auto n = static_cast<int>(courier::test::scaled(100000, 1000));
  countdown fired(n);
  box<std::uint64_t> started;
  auto ref = sys.spawn<probe>();
  ref.tell(run{[&](probe& p) {
    for (int i = 0; i < n; ++i) {
      p.after(std::chrono::milliseconds(50 + i % 200),
              [&fired] { fired.count_down(); });
    }
    // No timer can fire while this handler runs: all n are pending.
    started.set(pending_timers(sys));
  }});
  BOOST_REQUIRE(started.wait_for(60s));
  BOOST_TEST(started.get() == static_cast<std::uint64_t>(n));
  BOOST_REQUIRE(fired.wait_for(60s));
  BOOST_TEST(
      courier::test::poll_until([&] { return pending_timers(sys) == 0; }, 10s));

  // As many periodic timers, all cancelled at once.
  box<std::uint64_t> cancelled;
  ref.tell(run{[&](probe& p) {
    for (int i = 0; i < n; ++i) {
      p.every(1s, tick{i});
    }
    std::uint64_t before = pending_timers(sys);
    p.cancel_timers();
    cancelled.set(before);
  }});
  BOOST_REQUIRE(cancelled.wait_for(60s));
  BOOST_TEST(cancelled.get() == static_cast<std::uint64_t>(n));
  BOOST_TEST(pending_timers(sys) == 0u);
}

// A handler that runs 30 periods long: the periodic timer skips what it
// missed instead of delivering a burst of late ticks.
BOOST_AUTO_TEST_CASE(periodic_ticks_do_not_pile_up_behind_a_slow_handler) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto start = std::make_shared<clock_type::time_point>();
  box<int> total;
  auto ref = sys.spawn<probe>([&, start](probe& p, const tick&) {
    if (p.ticks == 1) {
      spin_for(300ms);
    }
    if (clock_type::now() - *start >= 400ms && !total.ready()) {
      p.cancel_timers();
      total.set(p.ticks);
    }
  });
  ref.tell(run{[start](probe& p) {
    *start = clock_type::now();
    p.every(10ms, tick{1});
  }});
  BOOST_REQUIRE(total.wait_for(20s));
  // Piled up, 40 ticks would have come in 400 ms; skipping, about 11 come.
  // A loaded machine only makes it fewer.
  BOOST_TEST(total.get() <= 25);
  BOOST_TEST(sys.metrics().loops[0].timer_ticks_skipped >= 20u);
}

BOOST_AUTO_TEST_CASE(a_timer_handle_off_its_loop_throws) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  box<courier::timer> handle;
  auto ref = sys.spawn<probe>();
  ref.tell(run{[&handle](probe& p) {
    handle.set(p.after(1h, tick{1}));
  }});
  BOOST_REQUIRE(handle.wait_for(10s));
  courier::timer t = handle.get();
  BOOST_TEST((t.owner() == ref));
  BOOST_CHECK_THROW(t.cancel(), std::logic_error);
  BOOST_CHECK_THROW((void)t.active(), std::logic_error);
  courier::timer empty;
  BOOST_TEST(!empty.cancel());
}

BOOST_AUTO_TEST_CASE(every_rejects_a_period_that_is_not_positive) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  box<int> rejected;
  auto ref = sys.spawn<probe>();
  ref.tell(run{[&rejected](probe& p) {
    int count = 0;
    try {
      p.every(0ms, tick{1});
    } catch (const std::invalid_argument&) {
      ++count;
    }
    try {
      p.every("k", -5ms, [] {});
    } catch (const std::invalid_argument&) {
      ++count;
    }
    rejected.set(count);
  }});
  BOOST_REQUIRE(rejected.wait_for(10s));
  BOOST_TEST(rejected.get() == 2);
}

BOOST_AUTO_TEST_CASE(a_throwing_timer_fails_its_actor_only) {
  courier::test::time_limit guard{30s};
  box<std::string> failure;
  courier::system_config cfg{.loops = 1};
  cfg.on_failure = [&failure](const courier::actor_failure& f) {
    failure.set(f.what);
  };
  courier::system sys{cfg};
  box<bool> stopped;
  auto bad = sys.spawn<probe>(probe::hook{},
                              [&stopped](probe&) { stopped.set(true); });
  auto good = sys.spawn<probe>();
  bad.tell(run{[](probe& p) {
    p.every(1ms, [] { throw std::runtime_error("timer boom"); });
  }});
  BOOST_REQUIRE(failure.wait_for(10s));
  BOOST_TEST(failure.get() == "timer boom");
  BOOST_REQUIRE(stopped.wait_for(10s));
  box<bool> alive;
  good.tell(run{[&alive](probe& p) {
    p.after(1ms, [&alive] { alive.set(true); });
  }});
  BOOST_REQUIRE(alive.wait_for(10s));
}

BOOST_AUTO_TEST_CASE(an_unhandled_timer_message_is_counted) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<probe>();
  ref.tell(run{[](probe& p) {
    p.after(1ms, unknown_message{});
  }});
  BOOST_TEST(courier::test::poll_until(
      [&] { return sys.metrics().unhandled == 1; }, 10s));
}

// Asks time out through the same deadline heap while many timers wait.
BOOST_AUTO_TEST_CASE(ask_timeouts_share_the_timer_heap) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto silent = sys.spawn<probe>();
  box<bool> timed_out;
  auto asker = sys.spawn<probe>();
  asker.tell(run{[&timed_out, silent](probe& p) {
    for (int i = 0; i < 1000; ++i) {
      p.after(std::chrono::seconds(100 + i), tick{i});
    }
    auto start = clock_type::now();
    // The silent probe keeps the promise and never answers.
    p.ask<int>(silent, run{[](probe& q) {
                 q.held = q.make_response_promise<int>();
               }},
               {.timeout = 50ms})
        .then([&timed_out](int) { timed_out.set(false); },
              [&timed_out, start](const courier::ask_error& e) {
                timed_out.set(e.value() == courier::errc::ask_timeout &&
                              clock_type::now() - start >= 49ms);
              });
  }});
  BOOST_REQUIRE(timed_out.wait_for(10s));
  BOOST_TEST(timed_out.get());
}
