// Deliberate data races on message payloads, built only under
// ThreadSanitizer. CTest runs each case in a process of its own and passes
// it only when TSan, reading tests/tsan.supp, reports the case's race (see
// tests/CMakeLists.txt): a suppression that hides races in payloads moved
// through a loop's inbound queue fails it.
#define BOOST_TEST_MODULE tsan_canary
#include "courier/courier.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace {

using namespace std::chrono_literals;
using courier::test::countdown;
using courier::test::poll_until;

// What a sender keeps writing after it sent a message that refers to it.
struct sender_state {
  int value = 0;
};

int read_state(const sender_state& s) {
  return s.value;
}

// Its move constructor reads the sender's state: the move out of the
// inbound queue, on the receiving loop's thread, races with the write.
struct snapshot {
  explicit snapshot(sender_state* s) : from(s), value(s->value) {}
  snapshot(snapshot&& other) noexcept
      : from(other.from), value(other.from->value) {}
  snapshot& operator=(snapshot&&) = delete;
  ~snapshot() = default;

  sender_state* from;
  int value;
};

// Moved by memcpy: only the handler reads the sender's state.
struct pointer_to {
  sender_state* state;
};

struct hold {};

struct send_then_write {
  courier::actor_ref to;
  sender_state* state;
};

// Relaxed atomics give ThreadSanitizer no happens-before edge: they only
// hold the receiving loop in a handler until the sender has written, so
// that the loop's first access to the state is the racing one.
std::atomic<bool> held{false};
std::atomic<bool> released{false};

class gate : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](hold) {
      held.store(true, std::memory_order_relaxed);
      while (!released.load(std::memory_order_relaxed)) {
        std::this_thread::yield();
      }
    }};
  }
};

class sink : public courier::actor {
 public:
  explicit sink(countdown* done) : done_(done) {}

 protected:
  courier::behavior behavior() override {
    return {[this](snapshot& s) {
              seen_ = s.value;
              done_->count_down();
            },
            [this](pointer_to p) {
              seen_ = read_state(*p.state);
              done_->count_down();
            }};
  }

 private:
  countdown* done_;
  int seen_ = 0;
};

// Sends from a loop thread, so through that loop's producer token.
class sender : public courier::actor {
 public:
  explicit sender(countdown* sent) : sent_(sent) {}

 protected:
  courier::behavior behavior() override {
    return {[this](send_then_write m) {
      m.to.tell(snapshot(m.state));
      m.state->value = 42;
      sent_->count_down();
    }};
  }

 private:
  countdown* sent_;
};

struct held_receiver {
  held_receiver() : sys(courier::system_config{.loops = 2}) {
    held.store(false, std::memory_order_relaxed);
    released.store(false, std::memory_order_relaxed);
    receiver = sys.spawn<sink>(courier::spawn_options{.loop = 1}, &done);
    sys.spawn<gate>(courier::spawn_options{.loop = 1}).tell(hold{});
    BOOST_REQUIRE(
        poll_until([] { return held.load(std::memory_order_relaxed); }, 10s));
  }

  void release_and_wait() {
    released.store(true, std::memory_order_relaxed);
    BOOST_TEST(done.wait_for(10s));
  }

  courier::system sys;
  countdown done;
  courier::actor_ref receiver;
  std::unique_ptr<sender_state> state = std::make_unique<sender_state>();
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_write_after_a_tell_from_outside_races_with_the_move,
                        held_receiver) {
  courier::test::time_limit limit(30s);
  receiver.tell(snapshot(state.get()));
  state->value = 42;
  release_and_wait();
}

BOOST_FIXTURE_TEST_CASE(a_write_after_a_tell_from_a_loop_races_with_the_move,
                        held_receiver) {
  courier::test::time_limit limit(30s);
  countdown sent;
  auto from = sys.spawn<sender>(courier::spawn_options{.loop = 0}, &sent);
  from.tell(send_then_write{receiver, state.get()});
  BOOST_REQUIRE(sent.wait_for(10s));
  release_and_wait();
}

BOOST_FIXTURE_TEST_CASE(a_write_after_a_tell_races_with_the_handler,
                        held_receiver) {
  courier::test::time_limit limit(30s);
  receiver.tell(pointer_to{state.get()});
  state->value = 42;
  release_and_wait();
}
