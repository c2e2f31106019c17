// Tests of system: loop count, shutdown, app-owned loops, signals, idling.
#define BOOST_TEST_MODULE system
#include "courier/system.hpp"

#include "courier/courier.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::test::box;
using courier::test::countdown;
using courier::test::poll_until;
using clock_type = std::chrono::steady_clock;

struct block {};
struct queued_item {};
struct query {};
struct double_it {
  int n;
};
struct value_message {
  int n;
};
struct start_ask {
  courier::actor_ref target;
};
struct quit {};

struct gate_state {
  countdown entered;
  countdown release;
  countdown stopped;
  std::atomic<bool> finished_in_hand{false};
  std::atomic<int> received{0};
};

class gate : public courier::actor {
 public:
  explicit gate(gate_state* state) : state_(state) {}

 protected:
  courier::behavior behavior() override {
    return {[this](block) {
              state_->entered.count_down();
              (void)state_->release.wait_for(30s);
              state_->finished_in_hand = true;
            },
            [this](queued_item) { ++state_->received; },
            [](query) {
              return 1;
            }};
  }
  void on_stop() override { state_->stopped.count_down(); }

 private:
  gate_state* state_;
};

class watcher : public courier::actor {
 public:
  explicit watcher(countdown* stopped, countdown* started = nullptr)
      : stopped_(stopped), started_(started) {}

 protected:
  courier::behavior behavior() override {
    return {[](double_it m) {
      return m.n * 2;
    }};
  }
  void on_start() override {
    if (started_ != nullptr) {
      started_->count_down();
    }
  }
  void on_stop() override {
    if (stopped_ != nullptr) {
      stopped_->count_down();
    }
  }

 private:
  countdown* stopped_;
  countdown* started_;
};

class recorder : public courier::actor {
 public:
  explicit recorder(box<int>* got) : got_(got) {}

 protected:
  courier::behavior behavior() override {
    return {[this](value_message m) { got_->set(m.n); },
            [](double_it m) {
              return m.n * 2;
            }};
  }

 private:
  box<int>* got_;
};

class app_asker : public courier::actor {
 public:
  explicit app_asker(box<int>* result) : result_(result) {}

 protected:
  courier::behavior behavior() override {
    return {[this](start_ask s) {
      ask<int>(s.target, double_it{21})
          .then([this](int v) { result_->set(v); },
                [this](const courier::ask_error&) { result_->set(-1); });
    }};
  }

 private:
  box<int>* result_;
};

class quitter : public courier::actor {
 public:
  quitter(courier::system* sys, countdown* stopped)
      : sys_(sys), stopped_(stopped) {}

 protected:
  courier::behavior behavior() override {
    return {[this](quit) {
      sys_->request_shutdown();
    }};
  }
  void on_stop() override { stopped_->count_down(); }

 private:
  courier::system* sys_;
  countdown* stopped_;
};

template <class Pred>
bool drive(uv_loop_t& loop, Pred done, std::chrono::seconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!done()) {
    if (clock_type::now() >= deadline) {
      return false;
    }
    uv_run(&loop, UV_RUN_ONCE);
  }
  return true;
}

std::chrono::microseconds cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto tv = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) +
           std::chrono::microseconds(t.tv_usec);
  };
  return tv(usage.ru_utime) + tv(usage.ru_stime);
}

std::string stop_failure_mismatch(courier::ask_result<int>& r) {
  try {
    return "got the value " + std::to_string(r.get());
  } catch (const courier::ask_error& e) {
    if (e.value() == courier::errc::system_stopped ||
        e.value() == courier::errc::target_dead) {
      return "";
    }
    return "got errc " + std::to_string(static_cast<int>(e.value())) + ": " +
           e.what();
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(courier_system)

BOOST_AUTO_TEST_CASE(default_loop_count_is_hardware_concurrency) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys;
  std::size_t expected = std::max(1u, std::thread::hardware_concurrency());
  BOOST_TEST(sys.loop_count() == expected);
  BOOST_TEST(sys.metrics().loops.size() == expected);
  auto ref = sys.spawn<watcher>(nullptr);
  BOOST_TEST(ref.ask<int>(double_it{2}).get() == 4);
}

// Writes to a pipe whose reader is gone; answers the write's errno.
struct write_to_closed_pipe {};
class pipe_writer : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](write_to_closed_pipe) {
      int fds[2];
      if (::pipe(fds) != 0) {
        return -1;
      }
      ::close(fds[0]);
      char byte = 'x';
      int err = ::write(fds[1], &byte, 1) < 0 ? errno : 0;
      ::close(fds[1]);
      return err;
    }};
  }
};

BOOST_AUTO_TEST_CASE(a_write_to_a_closed_peer_fails_with_epipe_on_a_loop) {
  // With SIGPIPE's default action the write would end the test process.
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto w = sys.spawn<pipe_writer>();
  BOOST_TEST(w.ask<int>(write_to_closed_pipe{}).get() == EPIPE);
  BOOST_TEST(w.ask<int>(write_to_closed_pipe{}).get() == EPIPE);
}

BOOST_AUTO_TEST_CASE(a_thread_driving_its_own_loop_gets_epipe_too) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  bool blocked = false;
  int err = -1;
  int closed = -1;
  // A thread of its own, so the test runner's mask stays as it is.
  std::thread app([&] {
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
      return;
    }
    {
      courier::system sys(loop, courier::system_config{.loops = 1});
      sigset_t mask;
      pthread_sigmask(SIG_BLOCK, nullptr, &mask);
      blocked = sigismember(&mask, SIGPIPE) == 1;
      int fds[2];
      if (::pipe(fds) == 0) {
        ::close(fds[0]);
        char byte = 'x';
        err = ::write(fds[1], &byte, 1) < 0 ? errno : 0;
        ::close(fds[1]);
      }
      sys.shutdown();
    }
    closed = uv_loop_close(&loop);
  });
  app.join();
  BOOST_TEST(blocked);
  BOOST_TEST(err == EPIPE);
  BOOST_TEST(closed == 0);
}

BOOST_AUTO_TEST_CASE(single_loop_system_runs_actors) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  BOOST_TEST(sys.loop_count() == 1u);
  std::vector<courier::actor_ref> refs;
  for (int i = 0; i < 10; ++i) {
    refs.push_back(sys.spawn<watcher>(nullptr));
  }
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST(refs[static_cast<std::size_t>(i)].loop() == 0);
    BOOST_TEST(refs[static_cast<std::size_t>(i)].ask<int>(double_it{i}).get() ==
               2 * i);
  }
}

BOOST_AUTO_TEST_CASE(shutdown_finishes_message_in_hand_and_drops_the_rest) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  const int sent = 10'000;
  gate_state state;
  countdown sentinel_stopped;
  std::atomic<int> dead_items{0};
  courier::system sys{courier::system_config{
      .loops = 2, .on_dead_letter = [&](const courier::dead_letter& d) {
        if (d.type.find("queued_item") != std::string_view::npos) {
          ++dead_items;
        }
      }}};
  auto g = sys.spawn<gate>(courier::spawn_options{.loop = 0}, &state);
  auto sentinel =
      sys.spawn<watcher>(courier::spawn_options{.loop = 1}, &sentinel_stopped);
  BOOST_TEST(sentinel.ask<int>(double_it{1}).get() == 2);
  g.tell(block{});
  BOOST_REQUIRE(state.entered.wait_for(10s));
  for (int i = 0; i < sent; ++i) {
    g.tell(queued_item{});
  }
  std::thread closer([&] { sys.shutdown(); });
  bool shutdown_began = sentinel_stopped.wait_for(10s);
  state.release.count_down();
  closer.join();
  BOOST_CHECK_MESSAGE(shutdown_began,
                      "other loops did not stop while one handler was busy");
  BOOST_TEST(state.finished_in_hand.load());
  BOOST_TEST(state.stopped.done());
  BOOST_TEST_MESSAGE("handled " << state.received.load() << ", dead letters "
                                << dead_items.load());
  BOOST_TEST(state.received.load() + dead_items.load() == sent);
  BOOST_TEST(dead_items.load() > 0);
  BOOST_TEST(sys.metrics().dead_letters >=
             static_cast<std::uint64_t>(dead_items.load()));
}

BOOST_AUTO_TEST_CASE(queued_asks_fail_at_shutdown_instead_of_hanging) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  gate_state state;
  countdown sentinel_stopped;
  courier::system sys{courier::system_config{.loops = 2}};
  auto g = sys.spawn<gate>(courier::spawn_options{.loop = 0}, &state);
  auto sentinel =
      sys.spawn<watcher>(courier::spawn_options{.loop = 1}, &sentinel_stopped);
  BOOST_TEST(sentinel.ask<int>(double_it{1}).get() == 2);
  g.tell(block{});
  BOOST_REQUIRE(state.entered.wait_for(10s));
  std::vector<courier::ask_result<int>> pending;
  for (int i = 0; i < 10; ++i) {
    pending.push_back(g.ask<int>(query{}, {.timeout = 20s}));
  }
  std::thread closer([&] { sys.shutdown(); });
  bool shutdown_began = sentinel_stopped.wait_for(10s);
  state.release.count_down();
  closer.join();
  BOOST_REQUIRE(shutdown_began);
  auto start = clock_type::now();
  for (auto& r : pending) {
    auto mismatch = stop_failure_mismatch(r);
    BOOST_TEST(mismatch.empty(), mismatch);
  }
  BOOST_TEST((clock_type::now() - start) < 2s);
}

BOOST_AUTO_TEST_CASE(tell_and_ask_after_shutdown_do_nothing_harmful) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<watcher>(nullptr);
  BOOST_TEST(ref.ask<int>(double_it{1}).get() == 2);
  sys.shutdown();
  ref.tell(double_it{1});
  ref.tell(queued_item{});
  sys.stop(ref);
  sys.request_shutdown();
  auto start = clock_type::now();
  auto r = ref.ask<int>(double_it{1}, {.timeout = 20s});
  auto mismatch = stop_failure_mismatch(r);
  BOOST_TEST(mismatch.empty(), mismatch);
  BOOST_TEST((clock_type::now() - start) < 5s);
}

BOOST_AUTO_TEST_CASE(spawn_on_a_shut_down_system_throws) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  sys.shutdown();
  BOOST_CHECK_THROW(sys.spawn<watcher>(nullptr), std::logic_error);
}

BOOST_AUTO_TEST_CASE(shutdown_twice_is_fine) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  {
    courier::system sys{courier::system_config{.loops = 2}};
    auto ref = sys.spawn<watcher>(&stopped);
    BOOST_TEST(ref.ask<int>(double_it{1}).get() == 2);
    sys.shutdown();
    BOOST_TEST(stopped.done());
    sys.shutdown();
  }
  BOOST_TEST(stopped.remaining() == 0);
}

BOOST_AUTO_TEST_CASE(destructor_shuts_down_and_runs_on_stop) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped(3);
  {
    courier::system sys{courier::system_config{.loops = 2}};
    for (int i = 0; i < 3; ++i) {
      auto ref = sys.spawn<watcher>(&stopped);
      BOOST_TEST(ref.ask<int>(double_it{i}).get() == 2 * i);
    }
  }
  BOOST_TEST(stopped.remaining() == 0);
}

BOOST_AUTO_TEST_CASE(system_runs_on_an_application_owned_uv_loop) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  uv_loop_t loop;
  BOOST_REQUIRE(uv_loop_init(&loop) == 0);
  {
    box<int> got;
    box<int> asked;
    box<int> blocking;
    courier::system sys(loop, courier::system_config{.loops = 1});
    BOOST_TEST(sys.loop_count() == 1u);
    auto target = sys.spawn<recorder>(&got);
    auto asker = sys.spawn<app_asker>(&asked);
    uv_timer_t app_timer;
    BOOST_REQUIRE(uv_timer_init(&loop, &app_timer) == 0);
    BOOST_REQUIRE(uv_timer_start(
                      &app_timer, [](uv_timer_t*) {}, 5, 5) == 0);

    std::jthread teller([target] { target.tell(value_message{7}); });
    BOOST_REQUIRE(drive(
        loop, [&] { return got.ready(); }, 10s));
    teller.join();
    BOOST_TEST(got.get() == 7);

    asker.tell(start_ask{target});
    BOOST_REQUIRE(drive(
        loop, [&] { return asked.ready(); }, 10s));
    BOOST_TEST(asked.get() == 42);

    std::jthread outsider([target, &blocking] {
      try {
        blocking.set(target.ask<int>(double_it{5}, {.timeout = 10s}).get());
      } catch (const courier::ask_error&) {
        blocking.set(-1);
      }
    });
    BOOST_REQUIRE(drive(
        loop, [&] { return blocking.ready(); }, 20s));
    outsider.join();
    BOOST_TEST(blocking.get() == 10);

    bool timer_closed = false;
    app_timer.data = &timer_closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&app_timer),
             [](uv_handle_t* h) { *static_cast<bool*>(h->data) = true; });
    BOOST_REQUIRE(drive(
        loop, [&] { return timer_closed; }, 10s));

    countdown quitter_stopped;
    uv_timer_t stopper;
    BOOST_REQUIRE(uv_timer_init(&loop, &stopper) == 0);
    BOOST_REQUIRE(
        uv_timer_start(
            &stopper, [](uv_timer_t* t) { uv_stop(t->loop); }, 20000, 0) == 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&stopper));
    auto q = sys.spawn<quitter>(&sys, &quitter_stopped);
    q.tell(quit{});
    auto start = clock_type::now();
    uv_run(&loop, UV_RUN_DEFAULT);
    BOOST_TEST((clock_type::now() - start) < 10s,
               "request_shutdown() did not make uv_run return");
    uv_close(reinterpret_cast<uv_handle_t*>(&stopper), nullptr);

    sys.shutdown();
    BOOST_TEST(quitter_stopped.done());
  }
  BOOST_TEST(uv_loop_close(&loop) == 0);
}

BOOST_AUTO_TEST_CASE(request_shutdown_from_an_actor_wakes_wait_for_shutdown) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<quitter>(&sys, &stopped);
  ref.tell(quit{});
  auto start = clock_type::now();
  sys.wait_for_shutdown();
  BOOST_TEST((clock_type::now() - start) < 10s);
  BOOST_TEST(stopped.done());
}

BOOST_AUTO_TEST_CASE(request_shutdown_before_wait_is_not_lost) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<watcher>(&stopped);
  BOOST_TEST(ref.ask<int>(double_it{1}).get() == 2);
  sys.request_shutdown();
  sys.wait_for_shutdown();
  BOOST_TEST(stopped.done());
}

BOOST_AUTO_TEST_CASE(wait_for_shutdown_request_leaves_the_system_running) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  courier::system sys{courier::system_config{.loops = 2}};
  auto ref = sys.spawn<watcher>(&stopped);
  sys.request_shutdown();
  sys.wait_for_shutdown_request();
  // The loops still run: asks are answered, until shutdown().
  BOOST_TEST(ref.ask<int>(double_it{21}).get() == 42);
  BOOST_TEST(!stopped.done());
  sys.shutdown();
  BOOST_TEST(stopped.done());
}

BOOST_AUTO_TEST_CASE(idle_system_with_many_actors_uses_almost_no_cpu) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  const int actors = 1000;
  countdown started(actors);
  courier::system sys{courier::system_config{.loops = 2}};
  std::vector<courier::actor_ref> refs;
  for (int i = 0; i < actors; ++i) {
    refs.push_back(sys.spawn<watcher>(nullptr, &started));
  }
  BOOST_REQUIRE(started.wait_for(20s));
  BOOST_TEST(refs.back().ask<int>(double_it{1}).get() == 2);
  auto before = cpu_time();
  std::this_thread::sleep_for(3s);
  auto used = cpu_time() - before;
  BOOST_TEST_MESSAGE("idle CPU over 3 s: " << used.count() << " us");
  BOOST_TEST(used < std::chrono::microseconds(30'000));
}

BOOST_AUTO_TEST_CASE(metrics_count_actors_and_loops) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  courier::system sys{courier::system_config{.loops = 2}};
  auto before = sys.metrics();
  BOOST_TEST(before.loops.size() == 2u);
  BOOST_TEST(before.actors_spawned == 0u);
  BOOST_TEST(before.actors_stopped == 0u);
  auto a = sys.spawn<watcher>(&stopped);
  auto b = sys.spawn<watcher>(nullptr);
  auto c = sys.spawn<watcher>(nullptr);
  for (auto r : {a, b, c}) {
    BOOST_TEST(r.ask<int>(double_it{1}).get() == 2);
  }
  auto alive = [&sys] {
    std::uint64_t n = 0;
    for (const auto& l : sys.metrics().loops) {
      n += l.actors;
    }
    return n;
  };
  auto m = sys.metrics();
  BOOST_TEST(m.actors_spawned == 3u);
  BOOST_TEST(alive() == 3u);
  // A loop adds what an actor handled once its turn ends, which can be
  // after the reply reached the asker: wait for the count, with a deadline.
  auto handled = [&sys] {
    std::uint64_t n = 0;
    for (const auto& l : sys.metrics().loops) {
      n += l.messages;
    }
    return n;
  };
  BOOST_TEST(poll_until([&] { return handled() >= 3u; }, 5s));
  sys.stop(a);
  BOOST_REQUIRE(stopped.wait_for(10s));
  BOOST_TEST(poll_until(
      [&] { return sys.metrics().actors_stopped == 1 && alive() == 2; }, 5s));
  BOOST_TEST(sys.metrics().actors_spawned == 3u);
  sys.shutdown();
  BOOST_TEST(sys.metrics().actors_stopped == 3u);
}

void check_signal_wakes_wait_for_shutdown(int signum, std::size_t loops) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  countdown stopped;
  courier::system sys{courier::system_config{.loops = loops}};
  auto ref = sys.spawn<watcher>(&stopped);
  BOOST_TEST(ref.ask<int>(double_it{1}).get() == 2);
  sys.handle_signals();
  BOOST_REQUIRE(std::raise(signum) == 0);
  sys.wait_for_shutdown();
  BOOST_TEST(stopped.done());
}

BOOST_AUTO_TEST_CASE(handled_sigterm_wakes_wait_for_shutdown) {
  check_signal_wakes_wait_for_shutdown(SIGTERM, 1);
}

BOOST_AUTO_TEST_CASE(handled_sigint_wakes_wait_for_shutdown) {
  check_signal_wakes_wait_for_shutdown(SIGINT, 2);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct neighbour {
  courier::actor_ref next;
};
struct poke {};

// On stop, messages the next actor of the chain (on the same loop).
class chained : public courier::actor {
 public:
  explicit chained(std::atomic<int>* pokes) : pokes_(pokes) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const neighbour& n) { next_ = n.next; },
            [this](poke) {
              ++*pokes_;
            }};
  }
  void on_stop() override {
    if (next_.valid()) {
      next_.tell(poke{});
    }
  }

 private:
  std::atomic<int>* pokes_;
  courier::actor_ref next_;
};

}  // namespace

// During shutdown, on_stop hooks message actors of their own loop that are
// stopped before or after them: nothing may touch a deleted actor (under
// AddressSanitizer this used to be a use after free through the ready
// list), and each such message is a dead letter.
BOOST_AUTO_TEST_CASE(on_stop_messages_to_the_same_loop_during_shutdown) {
  courier::test::time_limit guard{30s};
  std::atomic<int> pokes{0};
  const int n = 200;
  {
    courier::system sys{courier::system_config{.loops = 1}};
    std::vector<courier::actor_ref> refs;
    for (int i = 0; i < n; ++i) {
      refs.push_back(sys.spawn<chained>(&pokes));
    }
    // Even actors poke the next one (finalized just after them, while the
    // poke waits in its mailbox); odd ones poke one finalized long ago.
    for (int i = 0; i < n; ++i) {
      refs[i].ask<void>(neighbour{refs[i % 2 == 0 ? i + 1 : i / 2]}).get();
    }
    sys.shutdown();
    BOOST_TEST(sys.metrics().dead_letters == static_cast<std::uint64_t>(n));
  }
  BOOST_TEST(pokes.load() == 0);
}
