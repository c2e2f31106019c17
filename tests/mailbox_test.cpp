// Tests of message ordering per sender and fairness between actors.
#define BOOST_TEST_MODULE mailbox
#include "courier/detail/mailbox.hpp"

#include "courier/courier.hpp"

#include "mailbox_impl.hpp"
#include "support/scale.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
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
      courier::detail::envelope e;
      mb.pop(e);
      BOOST_REQUIRE((e.type() == courier::detail::type_of<std::uint64_t>()));
      BOOST_TEST(e.get<std::uint64_t>() == next_out);
      ++next_out;
    }
  };
  push(3);
  pop(2);
  push(400);
  pop(200);
  push(170);
  pop(371);
  BOOST_TEST(mb.empty());
  mb.shrink();
  BOOST_TEST(mb.blocks() == 0u);
  push(9);
  BOOST_TEST(mb.size() == 9u);
  pop(9);
  BOOST_TEST(next_out == next_in);
}

BOOST_AUTO_TEST_CASE(a_small_tell_takes_24_bytes_and_a_reply_48) {
  courier::detail::envelope tell;
  tell.emplace<std::int64_t>(1);
  BOOST_TEST(courier::detail::mailbox::record_size(tell) == 24u);
  // 100,000 queued int64 tells fill 1 KiB blocks of 42 records each.
  courier::detail::mailbox mb;
  for (int i = 0; i < 100000; ++i) {
    courier::detail::envelope e;
    e.emplace<std::int64_t>(i);
    mb.push(std::move(e));
  }
  BOOST_TEST(mb.blocks() == (100000u + 41u) / 42u);
  courier::detail::envelope request;
  request.emplace<std::int64_t>(2);
  request.kind = courier::detail::envelope_kind::reply;
  request.request_id = 9;
  BOOST_TEST(courier::detail::mailbox::record_size(request) == 48u);
  request.kind = courier::detail::envelope_kind::message;
  request.request_id = 0;
}

namespace {

// Counts live instances, to see that the mailbox destroys what it moves.
struct tracked {
  explicit tracked(int v, std::atomic<int>* live) : value(v), live(live) {
    ++*live;
  }
  tracked(tracked&& o) noexcept : value(o.value), live(o.live) { ++*live; }
  tracked& operator=(tracked&&) = delete;
  ~tracked() { --*live; }
  int value;
  std::atomic<int>* live;
};

using big_array = std::array<std::uint64_t, 20>;

struct alignas(16) wide {
  std::uint64_t a;
  std::uint64_t b;
};

}  // namespace

BOOST_AUTO_TEST_CASE(records_of_every_shape_come_back_whole) {
  std::atomic<int> live{0};
  {
    courier::detail::mailbox mb;
    std::string big(1000, 'x');  // std::string: inline, non-trivial
    for (int i = 0; i < 300; ++i) {
      courier::detail::envelope e;
      switch (i % 5) {
        case 0:
          e.emplace<std::string>(big + std::to_string(i));
          break;
        case 1:
          e.emplace<wide>(wide{static_cast<std::uint64_t>(i), 7});
          break;
        case 2:
          e.emplace<tracked>(i, &live);
          break;
        case 3:  // too big for the envelope: on the heap
          e.emplace<big_array>();
          e.get<big_array>()[19] = static_cast<std::uint64_t>(i);
          break;
        default:  // a timer tick: kind and request id, no way back
          e.emplace<std::uint8_t>(static_cast<std::uint8_t>(i));
          e.kind = courier::detail::envelope_kind::timer;
          e.request_id = 1000 + static_cast<std::uint64_t>(i);
          break;
      }
      mb.push(std::move(e));
      BOOST_TEST(e.type() == nullptr);
    }
    BOOST_TEST(live.load() == 60);
    for (int i = 0; i < 250; ++i) {
      courier::detail::envelope e;
      mb.pop(e);
      switch (i % 5) {
        case 0:
          BOOST_TEST(e.get<std::string>() == big + std::to_string(i));
          break;
        case 1:
          BOOST_TEST(reinterpret_cast<std::uintptr_t>(&e.get<wide>()) % 16 ==
                     0u);
          BOOST_TEST(e.get<wide>().a == static_cast<std::uint64_t>(i));
          BOOST_TEST(e.get<wide>().b == 7u);
          break;
        case 2:
          BOOST_TEST(e.get<tracked>().value == i);
          break;
        case 3:
          BOOST_TEST(e.get<big_array>()[19] == static_cast<std::uint64_t>(i));
          break;
        default:
          BOOST_TEST((e.kind == courier::detail::envelope_kind::timer));
          BOOST_TEST(e.request_id == 1000 + static_cast<std::uint64_t>(i));
          BOOST_TEST(e.get<std::uint8_t>() == static_cast<std::uint8_t>(i));
          e.kind = courier::detail::envelope_kind::message;
          break;
      }
    }
    BOOST_TEST(live.load() == 10);
    // The rest are destroyed with the mailbox.
  }
  BOOST_TEST(live.load() == 0);
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
