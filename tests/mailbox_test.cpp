// Tests of message ordering per sender and fairness between actors.
#define BOOST_TEST_MODULE mailbox
#include "courier/detail/mailbox.hpp"

#include "courier/courier.hpp"

#include "mailbox_impl.hpp"
#include "support/scale.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::test::box;
using courier::test::countdown;
using courier::test::scaled;
using clock_type = std::chrono::steady_clock;

struct numbered {
  std::uint64_t seq;
};

struct tagged {
  std::uint32_t thread;
  std::uint64_t seq;
};

struct start_sending {
  courier::actor_ref to;
  std::uint64_t count;
};

struct keep_sending {};
struct tick {
  std::uint64_t n;
};
struct go {};
struct ping {};

struct order_result {
  std::uint64_t received = 0;
  bool in_order = true;
};

class ordered_receiver : public courier::actor {
 public:
  ordered_receiver(std::uint64_t expected, box<order_result>* out)
      : expected_(expected), out_(out) {}

 protected:
  courier::behavior behavior() override {
    return {[this](numbered m) {
      if (m.seq != next_) {
        in_order_ = false;
      }
      next_ = m.seq + 1;
      if (++received_ == expected_) {
        out_->set({received_, in_order_});
      }
    }};
  }

 private:
  std::uint64_t expected_;
  box<order_result>* out_;
  std::uint64_t next_ = 0;
  std::uint64_t received_ = 0;
  bool in_order_ = true;
};

class batch_sender : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](start_sending s) {
              to_ = s.to;
              total_ = s.count;
              send_batch();
            },
            [this](keep_sending) {
              send_batch();
            }};
  }

 private:
  void send_batch() {
    for (int i = 0; i < 1000 && sent_ < total_; ++i) {
      to_.tell(numbered{sent_++});
    }
    if (sent_ < total_) {
      self().tell(keep_sending{});
    }
  }

  courier::actor_ref to_;
  std::uint64_t total_ = 0;
  std::uint64_t sent_ = 0;
};

class per_thread_receiver : public courier::actor {
 public:
  per_thread_receiver(std::uint32_t threads, std::uint64_t expected,
                      box<order_result>* out)
      : next_(threads, 0), expected_(expected), out_(out) {}

 protected:
  courier::behavior behavior() override {
    return {[this](tagged m) {
      if (m.thread >= next_.size() || m.seq != next_[m.thread]) {
        in_order_ = false;
      } else {
        ++next_[m.thread];
      }
      if (++received_ == expected_) {
        out_->set({received_, in_order_});
      }
    }};
  }

 private:
  std::vector<std::uint64_t> next_;
  std::uint64_t expected_;
  box<order_result>* out_;
  std::uint64_t received_ = 0;
  bool in_order_ = true;
};

class chatty : public courier::actor {
 public:
  chatty(std::uint64_t limit, std::atomic<std::uint64_t>* progress,
         countdown* warmed_up)
      : limit_(limit), progress_(progress), warmed_up_(warmed_up) {}

 protected:
  courier::behavior behavior() override {
    return {[this](go) { self().tell(tick{0}); },
            [this](tick t) {
              progress_->store(t.n, std::memory_order_relaxed);
              if (t.n == 1000) {
                warmed_up_->count_down();
              }
              if (t.n + 1 < limit_) {
                self().tell(tick{t.n + 1});
              }
            }};
  }

 private:
  std::uint64_t limit_;
  std::atomic<std::uint64_t>* progress_;
  countdown* warmed_up_;
};

class quiet : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](ping) {
      return 1;
    }};
  }
};

order_result run_actor_to_actor(std::uint16_t sender_loop,
                                std::uint16_t receiver_loop) {
  const std::uint64_t count = scaled(100'000, 1000);
  box<order_result> out;
  courier::system sys{courier::system_config{.loops = 2}};
  auto receiver = sys.spawn<ordered_receiver>(
      courier::spawn_options{.loop = receiver_loop}, count, &out);
  auto sender =
      sys.spawn<batch_sender>(courier::spawn_options{.loop = sender_loop});
  BOOST_TEST(receiver.loop() == receiver_loop);
  BOOST_TEST(sender.loop() == sender_loop);
  sender.tell(start_sending{receiver, count});
  BOOST_REQUIRE(out.wait_for(60s));
  auto result = out.get();
  BOOST_TEST(result.received == count);
  BOOST_TEST(sys.metrics().dead_letters == 0u);
  return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mailbox)

BOOST_AUTO_TEST_CASE(fresh_mailbox_is_empty) {
  courier::detail::mailbox mb;
  BOOST_TEST(mb.empty());
  BOOST_TEST(mb.size() == 0u);
}

BOOST_AUTO_TEST_CASE(push_and_pop_keep_fifo_order_across_blocks) {
  courier::detail::mailbox mb;
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  auto push = [&](int n) {
    for (int i = 0; i < n; ++i) {
      courier::detail::envelope e;
      e.emplace<std::uint64_t>(next_in++);
      mb.push(std::move(e));
    }
  };
  auto pop = [&](int n) {
    for (int i = 0; i < n; ++i) {
      BOOST_REQUIRE(!mb.empty());
      BOOST_TEST(mb.front().get<std::uint64_t>() == next_out);
      ++next_out;
      mb.pop_front();
    }
  };
  push(3);
  pop(2);
  push(40);
  pop(20);
  push(17);
  pop(38);
  BOOST_TEST(mb.empty());
  mb.shrink();
  push(9);
  BOOST_TEST(mb.size() == 9u);
  pop(9);
  BOOST_TEST(next_out == next_in);
}

BOOST_AUTO_TEST_CASE(queued_envelope_stays_put_while_more_are_pushed) {
  courier::detail::mailbox mb;
  courier::detail::envelope first;
  first.emplace<std::uint64_t>(7u);
  mb.push(std::move(first));
  courier::detail::envelope* front = &mb.front();
  for (std::uint64_t i = 0; i < 100; ++i) {
    courier::detail::envelope e;
    e.emplace<std::uint64_t>(i);
    mb.push(std::move(e));
  }
  BOOST_TEST(&mb.front() == front);
  BOOST_TEST(front->get<std::uint64_t>() == 7u);
}

BOOST_AUTO_TEST_CASE(per_sender_fifo_on_the_same_loop) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  auto result = run_actor_to_actor(0, 0);
  BOOST_TEST(result.in_order);
}

BOOST_AUTO_TEST_CASE(per_sender_fifo_across_loops) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  auto result = run_actor_to_actor(0, 1);
  BOOST_TEST(result.in_order);
}

BOOST_AUTO_TEST_CASE(per_sender_fifo_from_several_outside_threads) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  const std::uint32_t threads = 4;
  const std::uint64_t per_thread = scaled(100'000, 1000);
  box<order_result> out;
  courier::system sys{courier::system_config{.loops = 2}};
  auto receiver =
      sys.spawn<per_thread_receiver>(threads, threads * per_thread, &out);
  std::vector<std::thread> senders;
  for (std::uint32_t t = 0; t < threads; ++t) {
    senders.emplace_back([receiver, t, per_thread] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        receiver.tell(tagged{t, i});
      }
    });
  }
  for (auto& s : senders) {
    s.join();
  }
  BOOST_REQUIRE(out.wait_for(60s));
  BOOST_TEST(out.get().received == threads * per_thread);
  BOOST_TEST(out.get().in_order);
}

BOOST_AUTO_TEST_CASE(chatty_actor_does_not_starve_another_on_the_same_loop) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  const std::uint64_t limit = 1'000'000;
  std::atomic<std::uint64_t> progress{0};
  countdown warmed_up;
  courier::system sys{courier::system_config{.loops = 1, .throughput = 64}};
  auto talker = sys.spawn<chatty>(limit, &progress, &warmed_up);
  auto other = sys.spawn<quiet>();
  BOOST_TEST(talker.loop() == other.loop());
  talker.tell(go{});
  BOOST_REQUIRE(warmed_up.wait_for(20s));
  auto start = clock_type::now();
  BOOST_TEST(other.ask<int>(ping{}, {.timeout = 10s}).get() == 1);
  auto elapsed = clock_type::now() - start;
  auto seen = progress.load(std::memory_order_relaxed);
  BOOST_TEST(elapsed < 1s);
  BOOST_TEST(seen + 1 < limit);
}

BOOST_AUTO_TEST_SUITE_END()
