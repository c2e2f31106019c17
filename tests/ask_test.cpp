// Tests of ask: blocking asks, actor-to-actor asks, promises and failures.
#define BOOST_TEST_MODULE ask
#include "courier/ask.hpp"

#include "courier/courier.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

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
using courier::test::box;
using courier::test::countdown;
using courier::test::poll_until;
using clock_type = std::chrono::steady_clock;

struct double_it {
  int n;
};
struct do_nothing {};
struct how_many {};
struct get_text {};
struct hold {};
struct release {
  int value;
};
struct release_from_thread {
  int value;
};
struct is_pending {};
struct explode {};
struct drop_promise {};
struct unknown_request {};
struct which_thread {};
struct try_block {
  courier::actor_ref target;
};

class responder : public courier::actor {
 public:
  explicit responder(countdown* stopped = nullptr) : stopped_(stopped) {}
  ~responder() override {
    if (helper_.joinable()) {
      helper_.join();
    }
  }

 protected:
  courier::behavior behavior() override {
    return {[](double_it m) { return m.n * 2; },
            [this](do_nothing) { ++nothing_; },
            [this](how_many) { return nothing_; },
            [](get_text) { return std::string("hello, courier"); },
            [this](hold) { held_ = make_response_promise<int>(); },
            [this](release r) { held_.deliver(r.value); },
            [this](release_from_thread r) {
              helper_ = std::thread([p = std::move(held_),
                                     v = r.value]() mutable { p.deliver(v); });
            },
            [this](is_pending) { return held_.pending(); },
            [](explode) -> int { throw std::runtime_error("boom"); },
            [this](drop_promise) {
              auto p = make_response_promise<int>();
              (void)p;
            },
            [](which_thread) {
              return std::this_thread::get_id();
            }};
  }
  void on_stop() override {
    if (stopped_ != nullptr) {
      stopped_->count_down();
    }
  }

 private:
  countdown* stopped_;
  courier::response_promise<int> held_;
  std::thread helper_;
  int nothing_ = 0;
};

class blocker : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](try_block t) {
      auto result = t.target.ask<int>(double_it{1}, {.timeout = 10s});
      try {
        (void)result.get();
        return courier::errc{};
      } catch (const courier::ask_error& e) {
        return e.value();
      }
    }};
  }
};

struct outcome {
  bool ok = false;
  int value = 0;
  courier::errc code{};
  std::string what;
  std::thread::id thread;
};

enum class request_kind { value, void_reply, hold, unknown, text, explode };

struct ask_for {
  courier::actor_ref target;
  request_kind kind;
  int n = 0;
  std::chrono::milliseconds timeout{5000};
};

class asker : public courier::actor {
 public:
  explicit asker(box<outcome>* out) : out_(out) {}

 private:
  auto on_value() {
    return [this](int v) {
      report(true, v, {}, "");
    };
  }
  auto on_error() {
    return [this](const courier::ask_error& e) {
      report(false, 0, e.value(), e.what());
    };
  }
  void report(bool ok, int v, courier::errc code, std::string what) {
    out_->set({ok, v, code, std::move(what), std::this_thread::get_id()});
  }

 protected:
  courier::behavior behavior() override {
    return {
        [this](const ask_for& a) {
          courier::ask_options opts{.timeout = a.timeout};
          switch (a.kind) {
            case request_kind::value:
              ask<int>(a.target, double_it{a.n}, opts)
                  .then(on_value(), on_error());
              break;
            case request_kind::void_reply:
              ask<void>(a.target, do_nothing{}, opts)
                  .then([this] { report(true, 0, {}, ""); }, on_error());
              break;
            case request_kind::hold:
              ask<int>(a.target, hold{}, opts).then(on_value(), on_error());
              break;
            case request_kind::unknown:
              ask<int>(a.target, unknown_request{}, opts)
                  .then(on_value(), on_error());
              break;
            case request_kind::text:
              ask<int>(a.target, get_text{}, opts).then(on_value(), on_error());
              break;
            case request_kind::explode:
              ask<int>(a.target, explode{}, opts).then(on_value(), on_error());
              break;
          }
        },
        [](which_thread) {
          return std::this_thread::get_id();
        }};
  }

 private:
  box<outcome>* out_;
};

struct start_sequence {
  courier::actor_ref target;
};

struct sequence_log {
  std::mutex mutex;
  std::vector<std::string> entries;
  countdown done{2};

  void add(std::string s) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      entries.push_back(std::move(s));
    }
    done.count_down();
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return entries;
  }
};

class late_checker : public courier::actor {
 public:
  explicit late_checker(sequence_log* log) : log_(log) {}

 protected:
  courier::behavior behavior() override {
    return {[this](start_sequence s) {
      ask<int>(s.target, hold{}, {.timeout = 50ms})
          .then([this](int v) { log_->add("reply1:" + std::to_string(v)); },
                [this, target = s.target](const courier::ask_error& e) {
                  log_->add(e.value() == courier::errc::ask_timeout ? "timeout1"
                                                                    : "error1");
                  target.tell(release{1001});
                  ask<int>(target, double_it{21})
                      .then(
                          [this](int v) {
                            log_->add("reply2:" + std::to_string(v));
                          },
                          [this](const courier::ask_error&) {
                            log_->add("error2");
                          });
                });
    }};
  }

 private:
  sequence_log* log_;
};

template <class R, class Message>
courier::errc ask_error_code(courier::actor_ref ref, Message msg,
                             courier::ask_options opts = {}) {
  try {
    (void)ref.ask<R>(std::move(msg), opts).get();
  } catch (const courier::ask_error& e) {
    return e.value();
  }
  return courier::errc{};
}

outcome actor_ask(courier::system& sys, courier::actor_ref target,
                  request_kind kind, int n = 0,
                  std::chrono::milliseconds timeout = 5000ms,
                  courier::spawn_options where = {}) {
  box<outcome> out;
  auto a = sys.spawn<asker>(where, &out);
  auto loop_thread = a.ask<std::thread::id>(which_thread{}).get();
  a.tell(ask_for{target, kind, n, timeout});
  BOOST_REQUIRE(out.wait_for(20s));
  outcome result = out.get();
  BOOST_TEST((result.thread == loop_thread));
  sys.stop(a);
  return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ask)

BOOST_AUTO_TEST_CASE(
    asks_queued_behind_a_throwing_handler_fail_with_target_dead) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  auto boom = ref.ask<int>(explode{}, {.timeout = 20s});
  std::vector<courier::ask_result<int>> queued;
  for (int i = 0; i < 5; ++i) {
    queued.push_back(ref.ask<int>(double_it{i}, {.timeout = 20s}));
  }
  auto start = clock_type::now();
  try {
    (void)boom.get();
    BOOST_FAIL("the throwing handler answered");
  } catch (const courier::ask_error& e) {
    BOOST_TEST((e.value() == courier::errc::handler_threw));
  }
  for (auto& r : queued) {
    try {
      (void)r.get();
      BOOST_FAIL("a queued ask was answered by a failed actor");
    } catch (const courier::ask_error& e) {
      BOOST_TEST((e.value() == courier::errc::target_dead));
    }
  }
  BOOST_TEST((clock_type::now() - start) < 5s);
}

BOOST_AUTO_TEST_CASE(blocking_ask_from_main_returns_the_reply) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<responder>();
  BOOST_TEST(ref.ask<int>(double_it{21}).get() == 42);
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(ref.ask<int>(double_it{i}).get() == 2 * i);
  }
}

BOOST_AUTO_TEST_CASE(many_outstanding_blocking_asks_each_get_their_reply) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<responder>();
  std::vector<courier::ask_result<int>> results;
  for (int i = 0; i < 200; ++i) {
    results.push_back(ref.ask<int>(double_it{i}));
  }
  for (int i = 0; i < 200; ++i) {
    BOOST_TEST(results[static_cast<std::size_t>(i)].get() == 2 * i);
  }
}

BOOST_AUTO_TEST_CASE(ask_void_completes_when_void_handler_returns) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  ref.ask<void>(do_nothing{}).get();
  ref.ask<void>(do_nothing{}).get();
  BOOST_TEST(ref.ask<int>(how_many{}).get() == 2);
}

BOOST_AUTO_TEST_CASE(ask_string_returns_the_string) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  BOOST_TEST(ref.ask<std::string>(get_text{}).get() == "hello, courier");
}

BOOST_AUTO_TEST_CASE(unanswered_ask_times_out_and_late_reply_is_counted) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  auto start = clock_type::now();
  try {
    (void)ref.ask<int>(hold{}, {.timeout = 50ms}).get();
    BOOST_FAIL("ask without an answer did not time out");
  } catch (const courier::ask_error& e) {
    BOOST_TEST((e.value() == courier::errc::ask_timeout));
  }
  auto elapsed = clock_type::now() - start;
  BOOST_TEST(elapsed >= 50ms);
  BOOST_TEST(elapsed < 5s);
  BOOST_TEST(sys.metrics().late_replies == 0u);
  ref.tell(release{5});
  BOOST_TEST(poll_until([&] { return sys.metrics().late_replies == 1; }, 5s));
}

BOOST_AUTO_TEST_CASE(late_reply_to_blocking_ask_is_not_seen_by_next_ask) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  BOOST_TEST((ask_error_code<int>(ref, hold{}, {.timeout = 50ms}) ==
              courier::errc::ask_timeout));
  ref.tell(release{1001});
  BOOST_TEST(ref.ask<int>(double_it{21}).get() == 42);
  BOOST_TEST(poll_until([&] { return sys.metrics().late_replies == 1; }, 5s));
}

BOOST_AUTO_TEST_CASE(ask_to_stopped_actor_fails_with_target_dead) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<responder>(&stopped);
  BOOST_TEST(ref.ask<int>(double_it{1}).get() == 2);
  sys.stop(ref);
  BOOST_REQUIRE(stopped.wait_for(10s));
  auto start = clock_type::now();
  BOOST_TEST((ask_error_code<int>(ref, double_it{1}, {.timeout = 20s}) ==
              courier::errc::target_dead));
  BOOST_TEST((clock_type::now() - start) < 5s);
}

BOOST_AUTO_TEST_CASE(ask_to_null_ref_fails_with_target_dead) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  BOOST_TEST(
      (ask_error_code<int>(courier::actor_ref{}, double_it{1},
                           {.timeout = 20s}) == courier::errc::target_dead));
}

BOOST_AUTO_TEST_CASE(throwing_handler_fails_ask_with_handler_threw) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  try {
    (void)ref.ask<int>(explode{}, {.timeout = 20s}).get();
    BOOST_FAIL("ask to a throwing handler succeeded");
  } catch (const courier::ask_error& e) {
    BOOST_TEST((e.value() == courier::errc::handler_threw));
    BOOST_TEST(std::string(e.what()).find("boom") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(ask_without_handler_fails_with_no_handler) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  BOOST_TEST((ask_error_code<int>(ref, unknown_request{}, {.timeout = 20s}) ==
              courier::errc::no_handler));
  BOOST_TEST(ref.ask<int>(double_it{2}).get() == 4);
}

BOOST_AUTO_TEST_CASE(ask_with_wrong_reply_type_fails_with_bad_reply_type) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  BOOST_TEST((ask_error_code<int>(ref, get_text{}, {.timeout = 20s}) ==
              courier::errc::bad_reply_type));
  BOOST_TEST(
      (ask_error_code<std::string>(ref, double_it{1}, {.timeout = 20s}) ==
       courier::errc::bad_reply_type));
}

BOOST_AUTO_TEST_CASE(blocking_get_on_loop_thread_fails_fast) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto target = sys.spawn<responder>(courier::spawn_options{.loop = 1});
  auto same_loop = sys.spawn<responder>(courier::spawn_options{.loop = 0});
  auto b = sys.spawn<blocker>(courier::spawn_options{.loop = 0});
  for (auto t : {target, same_loop}) {
    auto start = clock_type::now();
    auto code = b.ask<courier::errc>(try_block{t}, {.timeout = 10s}).get();
    BOOST_TEST((code == courier::errc::blocking_on_loop));
    BOOST_TEST((clock_type::now() - start) < 2s);
  }
  BOOST_TEST(target.ask<int>(double_it{3}).get() == 6);
  BOOST_TEST(same_loop.ask<int>(double_it{3}).get() == 6);
}

BOOST_AUTO_TEST_CASE(actor_ask_delivers_reply_on_same_loop) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto target = sys.spawn<responder>();
  auto r = actor_ask(sys, target, request_kind::value, 21);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.value == 42);
}

BOOST_AUTO_TEST_CASE(actor_ask_delivers_reply_across_loops) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto target = sys.spawn<responder>(courier::spawn_options{.loop = 1});
  auto r = actor_ask(sys, target, request_kind::value, 8, 5000ms,
                     courier::spawn_options{.loop = 0});
  BOOST_TEST(r.ok);
  BOOST_TEST(r.value == 16);
}

BOOST_AUTO_TEST_CASE(actor_ask_void_calls_on_reply_without_argument) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto target = sys.spawn<responder>(courier::spawn_options{.loop = 1});
  auto r = actor_ask(sys, target, request_kind::void_reply, 0, 5000ms,
                     courier::spawn_options{.loop = 0});
  BOOST_TEST(r.ok);
  BOOST_TEST(target.ask<int>(how_many{}).get() == 1);
}

BOOST_AUTO_TEST_CASE(actor_ask_timeout_goes_to_on_error) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  for (std::uint16_t loop = 0; loop < 2; ++loop) {
    auto target = sys.spawn<responder>(courier::spawn_options{.loop = loop});
    auto start = clock_type::now();
    auto r = actor_ask(sys, target, request_kind::hold, 0, 50ms,
                       courier::spawn_options{.loop = 0});
    BOOST_TEST(!r.ok);
    BOOST_TEST((r.code == courier::errc::ask_timeout));
    BOOST_TEST((clock_type::now() - start) >= 50ms);
    BOOST_TEST((clock_type::now() - start) < 5s);
  }
  BOOST_TEST(poll_until([&] { return sys.metrics().ask_timeouts == 2; }, 5s));
}

BOOST_AUTO_TEST_CASE(actor_ask_without_handler_goes_to_on_error) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  for (std::uint16_t loop = 0; loop < 2; ++loop) {
    auto target = sys.spawn<responder>(courier::spawn_options{.loop = loop});
    auto r = actor_ask(sys, target, request_kind::unknown, 0, 20s,
                       courier::spawn_options{.loop = 0});
    BOOST_TEST(!r.ok);
    BOOST_TEST((r.code == courier::errc::no_handler));
  }
}

BOOST_AUTO_TEST_CASE(actor_ask_to_dead_target_goes_to_on_error) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  for (std::uint16_t loop = 0; loop < 2; ++loop) {
    countdown stopped;
    auto target =
        sys.spawn<responder>(courier::spawn_options{.loop = loop}, &stopped);
    sys.stop(target);
    BOOST_REQUIRE(stopped.wait_for(10s));
    auto start = clock_type::now();
    auto r = actor_ask(sys, target, request_kind::value, 1, 20s,
                       courier::spawn_options{.loop = 0});
    BOOST_TEST(!r.ok);
    BOOST_TEST((r.code == courier::errc::target_dead));
    BOOST_TEST((clock_type::now() - start) < 5s);
  }
  auto r = actor_ask(sys, courier::actor_ref{}, request_kind::value, 1, 20s);
  BOOST_TEST(!r.ok);
  BOOST_TEST((r.code == courier::errc::target_dead));
}

BOOST_AUTO_TEST_CASE(actor_ask_to_throwing_handler_goes_to_on_error) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto target = sys.spawn<responder>(courier::spawn_options{.loop = 1});
  auto r = actor_ask(sys, target, request_kind::explode, 0, 20s,
                     courier::spawn_options{.loop = 0});
  BOOST_TEST(!r.ok);
  BOOST_TEST((r.code == courier::errc::handler_threw));
  BOOST_TEST(r.what.find("boom") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(actor_ask_with_wrong_reply_type_goes_to_on_error) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto target = sys.spawn<responder>();
  auto r = actor_ask(sys, target, request_kind::text, 0, 20s);
  BOOST_TEST(!r.ok);
  BOOST_TEST((r.code == courier::errc::bad_reply_type));
}

BOOST_AUTO_TEST_CASE(response_promise_delivered_from_a_later_message) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<responder>();
  auto result = ref.ask<int>(hold{}, {.timeout = 20s});
  BOOST_TEST(ref.ask<bool>(is_pending{}).get());
  ref.tell(release{7});
  BOOST_TEST(result.get() == 7);
  BOOST_TEST(!ref.ask<bool>(is_pending{}).get());
}

BOOST_AUTO_TEST_CASE(response_promise_delivered_from_another_thread) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  auto result = ref.ask<int>(hold{}, {.timeout = 20s});
  ref.tell(release_from_thread{11});
  BOOST_TEST(result.get() == 11);
}

BOOST_AUTO_TEST_CASE(response_promise_taken_in_a_tell_is_not_pending) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<responder>();
  ref.tell(hold{});
  BOOST_TEST(!ref.ask<bool>(is_pending{}).get());
  ref.tell(release{3});
  BOOST_TEST(ref.ask<int>(double_it{2}).get() == 4);
  BOOST_TEST(sys.metrics().late_replies == 0u);
}

BOOST_AUTO_TEST_CASE(destroyed_response_promise_fails_with_broken_promise) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<responder>();
  BOOST_TEST((ask_error_code<int>(ref, drop_promise{}, {.timeout = 20s}) ==
              courier::errc::broken_promise));
}

BOOST_AUTO_TEST_CASE(late_reply_is_counted_and_not_delivered_to_next_request) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  for (std::uint16_t loop = 0; loop < 2; ++loop) {
    sequence_log log;
    courier::system sys{courier::system_config{.loops = 2}};
    auto target = sys.spawn<responder>(courier::spawn_options{.loop = loop});
    auto checker =
        sys.spawn<late_checker>(courier::spawn_options{.loop = 0}, &log);
    checker.tell(start_sequence{target});
    BOOST_REQUIRE(log.done.wait_for(20s));
    BOOST_TEST(log.snapshot() ==
               (std::vector<std::string>{"timeout1", "reply2:42"}));
    BOOST_TEST(poll_until([&] { return sys.metrics().late_replies == 1; }, 5s));
    BOOST_TEST(sys.metrics().ask_timeouts == 1u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
