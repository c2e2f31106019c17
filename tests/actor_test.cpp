// Tests of actor lifecycle, placement, stopping, failures and dead letters.
#define BOOST_TEST_MODULE actor
#include "courier/actor.hpp"

#include "courier/courier.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::test::box;
using courier::test::countdown;
using courier::test::poll_until;

struct note {
  std::string text;
};
struct tick {};
struct quit {};
struct get_count {};
struct explode {};
struct ping {};
struct which_thread {};
struct make_child {
  int value;
};
struct greet {};
struct get_value {};
struct ask_child {
  courier::actor_ref child;
};
struct surprise_message {};

struct event_log {
  std::mutex mutex;
  std::vector<std::string> entries;

  void add(std::string s) {
    std::lock_guard<std::mutex> lock(mutex);
    entries.push_back(std::move(s));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return entries;
  }
};

class lifecycle : public courier::actor {
 public:
  lifecycle(event_log* log, box<courier::actor_ref>* self_seen,
            countdown* stopped)
      : log_(log), self_seen_(self_seen), stopped_(stopped) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const note& n) {
      log_->add(n.text);
    }};
  }
  void on_start() override {
    log_->add("start");
    self_seen_->set(self());
  }
  void on_stop() override {
    log_->add("stop");
    stopped_->count_down();
  }

 private:
  event_log* log_;
  box<courier::actor_ref>* self_seen_;
  countdown* stopped_;
};

class counter : public courier::actor {
 public:
  explicit counter(countdown* stopped = nullptr, box<int>* final = nullptr)
      : stopped_(stopped), final_(final) {}

 protected:
  courier::behavior behavior() override {
    return {[this](tick) { ++count_; }, [this](get_count) { return count_; },
            [this](quit) {
              stop();
            }};
  }
  void on_stop() override {
    if (final_ != nullptr) {
      final_->set(count_);
    }
    if (stopped_ != nullptr) {
      stopped_->count_down();
    }
  }

 private:
  countdown* stopped_;
  box<int>* final_;
  int count_ = 0;
};

class greeter : public courier::actor {
 public:
  greeter(std::string word, int times, std::unique_ptr<int> extra)
      : word_(std::move(word)), times_(times), extra_(std::move(extra)) {}

 protected:
  courier::behavior behavior() override {
    return {[this](get_value) {
      std::string out;
      for (int i = 0; i < times_; ++i) {
        out += word_;
      }
      return out + std::to_string(*extra_);
    }};
  }

 private:
  std::string word_;
  int times_;
  std::unique_ptr<int> extra_;
};

class where : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](which_thread) {
      return std::this_thread::get_id();
    }};
  }
};

class child_actor : public courier::actor {
 public:
  child_actor(box<int>* greeted, int value)
      : greeted_(greeted), value_(value) {}

 protected:
  courier::behavior behavior() override {
    return {[this](greet) { greeted_->set(value_); },
            [this](get_value) {
              return value_;
            }};
  }

 private:
  box<int>* greeted_;
  int value_;
};

class parent_actor : public courier::actor {
 public:
  parent_actor(box<int>* greeted, box<int>* asked)
      : greeted_(greeted), asked_(asked) {}

 protected:
  courier::behavior behavior() override {
    return {[this](make_child m) {
              auto child = spawn<child_actor>(
                  courier::spawn_options{.next_to = self()}, greeted_, m.value);
              child.tell(greet{});
              return child;
            },
            [this](ask_child a) {
              ask<int>(a.child, get_value{})
                  .then([this](int v) { asked_->set(v); },
                        [this](const courier::ask_error&) { asked_->set(-1); });
            }};
  }

 private:
  box<int>* greeted_;
  box<int>* asked_;
};

class thrower : public courier::actor {
 public:
  explicit thrower(countdown* stopped) : stopped_(stopped) {}

 protected:
  courier::behavior behavior() override {
    return {[](explode) { throw std::runtime_error("kaboom"); },
            [](tick) {
            }};
  }
  void on_stop() override { stopped_->count_down(); }

 private:
  countdown* stopped_;
};

class failing_start : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](tick) {
    }};
  }
  void on_start() override { throw std::runtime_error("start failed"); }
};

class bystander : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](ping) {
      return ++pings_;
    }};
  }

 private:
  int pings_ = 0;
};

struct failure_record {
  courier::actor_ref target;
  std::string what;
};

struct type_record {
  courier::actor_ref target;
  std::string type;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(actor)

BOOST_AUTO_TEST_CASE(on_start_runs_before_first_message_and_on_stop_once) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  event_log log;
  box<courier::actor_ref> self_seen;
  countdown stopped;
  courier::actor_ref ref;
  {
    courier::system sys{courier::system_config{.loops = 2}};
    ref = sys.spawn<lifecycle>(&log, &self_seen, &stopped);
    ref.tell(note{"m1"});
    ref.tell(note{"m2"});
    sys.stop(ref);
    BOOST_REQUIRE(stopped.wait_for(10s));
    sys.shutdown();
  }
  BOOST_TEST(log.snapshot() ==
             (std::vector<std::string>{"start", "m1", "m2", "stop"}));
  BOOST_REQUIRE(self_seen.ready());
  BOOST_TEST((self_seen.get() == ref));
}

BOOST_AUTO_TEST_CASE(on_stop_runs_at_shutdown_for_running_actors) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  event_log log;
  box<courier::actor_ref> self_seen;
  countdown stopped;
  {
    courier::system sys{courier::system_config{.loops = 1}};
    sys.spawn<lifecycle>(&log, &self_seen, &stopped);
    BOOST_REQUIRE(self_seen.wait_for(10s));
  }
  BOOST_TEST(stopped.done());
  BOOST_TEST(log.snapshot() == (std::vector<std::string>{"start", "stop"}));
}

BOOST_AUTO_TEST_CASE(stop_from_handler_sends_later_messages_to_dead_letters) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  std::atomic<int> dead{0};
  countdown two_dead(2);
  std::mutex mutex;
  std::vector<type_record> records;
  countdown stopped;
  box<int> final;
  courier::system sys{courier::system_config{
      .loops = 2, .on_dead_letter = [&](const courier::dead_letter& d) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          records.push_back({d.target, std::string(d.type)});
        }
        ++dead;
        two_dead.count_down();
      }}};
  auto ref = sys.spawn<counter>(&stopped, &final);
  ref.tell(tick{});
  ref.tell(quit{});
  ref.tell(tick{});
  BOOST_REQUIRE(stopped.wait_for(10s));
  ref.tell(tick{});
  BOOST_REQUIRE(two_dead.wait_for(10s));
  BOOST_TEST(final.get() == 1);
  BOOST_TEST(dead.load() == 2);
  BOOST_TEST(poll_until([&] { return sys.metrics().dead_letters == 2; }, 5s));
  std::lock_guard<std::mutex> lock(mutex);
  for (const auto& r : records) {
    BOOST_TEST((r.target == ref));
    BOOST_TEST(r.type.find("tick") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(spawn_forwards_constructor_arguments) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<greeter>(std::string("ab"), 3, std::make_unique<int>(7));
  BOOST_TEST(ref.ask<std::string>(get_value{}).get() == "ababab7");
  auto other = sys.spawn<greeter>(courier::spawn_options{}, std::string("x"), 2,
                                  std::make_unique<int>(1));
  BOOST_TEST(other.ask<std::string>(get_value{}).get() == "xx1");
}

BOOST_AUTO_TEST_CASE(spawn_option_loop_places_actor_on_that_loop) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto on0 = sys.spawn<where>(courier::spawn_options{.loop = 0});
  auto on1 = sys.spawn<where>(courier::spawn_options{.loop = 1});
  BOOST_TEST(on0.loop() == 0);
  BOOST_TEST(on1.loop() == 1);
  auto t0 = on0.ask<std::thread::id>(which_thread{}).get();
  auto t1 = on1.ask<std::thread::id>(which_thread{}).get();
  BOOST_TEST((t0 != t1));
  BOOST_TEST((t0 != std::this_thread::get_id()));
  BOOST_TEST((t1 != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(spawn_option_loop_wraps_modulo_loop_count) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<where>(courier::spawn_options{.loop = 3});
  BOOST_TEST(ref.loop() == 1);
  auto on1 = sys.spawn<where>(courier::spawn_options{.loop = 1});
  BOOST_TEST((ref.ask<std::thread::id>(which_thread{}).get() ==
              on1.ask<std::thread::id>(which_thread{}).get()));
}

BOOST_AUTO_TEST_CASE(spawn_option_next_to_places_actor_on_the_other_loop) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  for (std::uint16_t loop = 0; loop < 2; ++loop) {
    auto other = sys.spawn<where>(courier::spawn_options{.loop = loop});
    auto near = sys.spawn<where>(courier::spawn_options{.next_to = other});
    BOOST_TEST(near.loop() == other.loop());
    BOOST_TEST((near.ask<std::thread::id>(which_thread{}).get() ==
                other.ask<std::thread::id>(which_thread{}).get()));
  }
}

BOOST_AUTO_TEST_CASE(spread_spawns_go_round_robin_over_loops) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 3}};
  std::vector<std::uint16_t> loops;
  for (int i = 0; i < 6; ++i) {
    loops.push_back(
        sys.spawn<where>(courier::spawn_options{.spread = true}).loop());
  }
  for (std::size_t i = 1; i < loops.size(); ++i) {
    BOOST_TEST(loops[i] == (loops[i - 1] + 1) % 3);
  }
}

BOOST_AUTO_TEST_CASE(default_spawns_of_one_thread_share_its_home_loop) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  // The first outside thread to spawn gets loop 0, the next loop 1, ...
  auto first = sys.spawn<where>();
  BOOST_TEST(first.loop() == 0);
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST(sys.spawn<where>().loop() == 0);
  }
  // Explicit spreading does not move this thread's home.
  sys.spawn<where>(courier::spawn_options{.spread = true});
  BOOST_TEST(sys.spawn<where>().loop() == 0);
  std::uint16_t other_home = 99;
  std::uint16_t other_again = 99;
  std::thread t([&] {
    other_home = sys.spawn<where>().loop();
    other_again = sys.spawn<where>().loop();
  });
  t.join();
  BOOST_TEST(other_home == 1);
  BOOST_TEST(other_again == 1);
  BOOST_TEST(sys.spawn<where>().loop() == 0);
  // Actors on one loop run on one thread.
  BOOST_TEST((first.ask<std::thread::id>(which_thread{}).get() ==
              sys.spawn<where>().ask<std::thread::id>(which_thread{}).get()));
}

BOOST_AUTO_TEST_CASE(home_loops_are_per_system) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  for (int round = 0; round < 3; ++round) {
    // A new system (perhaps at the same address) hands out homes afresh.
    courier::system sys{courier::system_config{.loops = 2}};
    BOOST_TEST(sys.spawn<where>().loop() == 0);
    std::uint16_t other = 99;
    std::thread t([&] { other = sys.spawn<where>().loop(); });
    t.join();
    BOOST_TEST(other == 1);
  }
}

class spawner : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](int n) {
      std::vector<courier::actor_ref> kids;
      for (int i = 0; i < n; ++i) {
        kids.push_back(spawn<where>());
      }
      kids.push_back(spawn<where>(courier::spawn_options{.spread = true}));
      return kids;
    }};
  }
};

BOOST_AUTO_TEST_CASE(an_actors_default_spawns_start_on_its_loop) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  for (std::uint16_t l = 0; l < 2; ++l) {
    auto parent = sys.spawn<spawner>(courier::spawn_options{.loop = l});
    auto kids = parent.ask<std::vector<courier::actor_ref>>(5).get();
    BOOST_REQUIRE(kids.size() == 6u);
    for (std::size_t i = 0; i < 5; ++i) {
      BOOST_TEST(kids[i].loop() == l);
    }
    BOOST_TEST(kids[5].valid());
  }
}

BOOST_AUTO_TEST_CASE(actor_spawns_a_child_from_a_handler_and_messages_it) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  box<int> greeted;
  box<int> asked;
  courier::system sys{courier::system_config{.loops = 2}};
  auto parent = sys.spawn<parent_actor>(&greeted, &asked);
  auto child = parent.ask<courier::actor_ref>(make_child{5}).get();
  BOOST_TEST(child.valid());
  BOOST_TEST((child != parent));
  BOOST_TEST(child.loop() == parent.loop());
  BOOST_REQUIRE(greeted.wait_for(10s));
  BOOST_TEST(greeted.get() == 5);
  BOOST_TEST(child.ask<int>(get_value{}).get() == 5);
  parent.tell(ask_child{child});
  BOOST_REQUIRE(asked.wait_for(10s));
  BOOST_TEST(asked.get() == 5);
  BOOST_TEST(sys.metrics().actors_spawned == 2u);
}

BOOST_AUTO_TEST_CASE(system_stop_is_ordered_after_messages_already_sent) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  box<int> final;
  std::atomic<int> dead{0};
  courier::system sys{courier::system_config{
      .loops = 2, .on_dead_letter = [&](const courier::dead_letter&) {
        ++dead;
      }}};
  auto ref = sys.spawn<counter>(&stopped, &final);
  for (int i = 0; i < 100; ++i) {
    ref.tell(tick{});
  }
  sys.stop(ref);
  BOOST_REQUIRE(stopped.wait_for(10s));
  BOOST_TEST(final.get() == 100);
  BOOST_TEST(dead.load() == 0);
}

BOOST_AUTO_TEST_CASE(throwing_handler_stops_actor_and_reports_failure) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  box<failure_record> failure;
  std::atomic<int> failures{0};
  countdown stopped;
  courier::system sys{courier::system_config{
      .loops = 1, .on_failure = [&](const courier::actor_failure& f) {
        ++failures;
        failure.set({f.target, f.what});
      }}};
  auto bad = sys.spawn<thrower>(&stopped);
  auto good = sys.spawn<bystander>();
  BOOST_TEST(good.ask<int>(ping{}).get() == 1);
  bad.tell(explode{});
  BOOST_REQUIRE(failure.wait_for(10s));
  BOOST_TEST(failure.get().what.find("kaboom") != std::string::npos);
  BOOST_TEST((failure.get().target == bad));
  BOOST_REQUIRE(stopped.wait_for(10s));
  BOOST_TEST(good.ask<int>(ping{}).get() == 2);
  BOOST_TEST(poll_until([&] { return sys.metrics().failures == 1; }, 5s));
  BOOST_TEST(failures.load() == 1);
  try {
    bad.ask<void>(tick{}, {.timeout = 5s}).get();
    BOOST_ERROR("ask to a failed actor succeeded");
  } catch (const courier::ask_error& e) {
    BOOST_TEST((e.value() == courier::errc::target_dead));
  }
}

BOOST_AUTO_TEST_CASE(throwing_on_start_reports_failure_and_stops_actor) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  box<failure_record> failure;
  courier::system sys{courier::system_config{
      .loops = 1, .on_failure = [&](const courier::actor_failure& f) {
        failure.set({f.target, f.what});
      }}};
  auto bad = sys.spawn<failing_start>();
  BOOST_REQUIRE(failure.wait_for(10s));
  BOOST_TEST(failure.get().what.find("start failed") != std::string::npos);
  BOOST_TEST((failure.get().target == bad));
  try {
    bad.ask<void>(tick{}, {.timeout = 5s}).get();
    BOOST_ERROR("ask to an actor whose on_start threw succeeded");
  } catch (const courier::ask_error& e) {
    BOOST_TEST((e.value() == courier::errc::target_dead));
  }
  auto good = sys.spawn<bystander>();
  BOOST_TEST(good.ask<int>(ping{}).get() == 1);
}

BOOST_AUTO_TEST_CASE(unhandled_message_is_reported_and_actor_keeps_working) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  box<type_record> unhandled;
  std::atomic<int> calls{0};
  courier::system sys{courier::system_config{
      .loops = 1, .on_unhandled = [&](const courier::unhandled_message& u) {
        ++calls;
        unhandled.set({u.target, std::string(u.type)});
      }}};
  auto ref = sys.spawn<bystander>();
  ref.tell(surprise_message{});
  BOOST_REQUIRE(unhandled.wait_for(10s));
  BOOST_TEST(unhandled.get().type.find("surprise_message") !=
             std::string::npos);
  BOOST_TEST((unhandled.get().target == ref));
  BOOST_TEST(ref.ask<int>(ping{}).get() == 1);
  BOOST_TEST(sys.metrics().unhandled == 1u);
  BOOST_TEST(calls.load() == 1);
  BOOST_TEST(sys.metrics().failures == 0u);
}

BOOST_AUTO_TEST_CASE(stale_ref_after_slot_reuse_goes_to_dead_letters) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  box<courier::actor_ref> dead_target;
  countdown a_stopped;
  courier::system sys{courier::system_config{
      .loops = 1, .on_dead_letter = [&](const courier::dead_letter& d) {
        dead_target.set(d.target);
      }}};
  auto a = sys.spawn<counter>(&a_stopped);
  BOOST_TEST(a.ask<int>(get_count{}).get() == 0);
  sys.stop(a);
  BOOST_REQUIRE(a_stopped.wait_for(10s));
  BOOST_REQUIRE(
      poll_until([&] { return sys.metrics().actors_stopped == 1; }, 5s));
  auto b = sys.spawn<counter>();
  BOOST_TEST((a != b));
  a.tell(tick{});
  BOOST_REQUIRE(dead_target.wait_for(10s));
  BOOST_TEST((dead_target.get() == a));
  BOOST_TEST(b.ask<int>(get_count{}).get() == 0);
  BOOST_TEST(sys.metrics().dead_letters >= 1u);
}

BOOST_AUTO_TEST_SUITE_END()
