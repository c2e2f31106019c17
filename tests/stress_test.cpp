// Stress tests: many threads into one actor, and repeated start/stop cycles.
#define BOOST_TEST_MODULE stress
#include "courier/courier.hpp"

#include "support/scale.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using courier::test::box;
using courier::test::countdown;
using courier::test::scaled;

struct item {
  std::uint32_t thread;
  std::uint32_t seq;
  std::uint64_t value;
};

struct get_count {};
struct bump {};

struct tally {
  std::vector<std::uint64_t> per_thread;
  std::uint64_t total = 0;
  std::uint64_t sum = 0;
  std::uint64_t out_of_order = 0;
};

class sink : public courier::actor {
 public:
  sink(std::uint32_t threads, std::uint64_t expected, box<tally>* out)
      : expected_(expected), out_(out) {
    tally_.per_thread.assign(threads, 0);
  }

 protected:
  courier::behavior behavior() override {
    return {[this](const item& m) {
      if (m.thread >= tally_.per_thread.size() ||
          m.seq != tally_.per_thread[m.thread]) {
        ++tally_.out_of_order;
      }
      if (m.thread < tally_.per_thread.size()) {
        ++tally_.per_thread[m.thread];
      }
      tally_.sum += m.value;
      if (++tally_.total == expected_) {
        out_->set(tally_);
      }
    }};
  }

 private:
  std::uint64_t expected_;
  box<tally>* out_;
  tally tally_;
};

class bump_counter : public courier::actor {
 public:
  explicit bump_counter(countdown* all_in) : all_in_(all_in) {}

 protected:
  courier::behavior behavior() override {
    return {[this](bump) {
              ++count_;
              all_in_->count_down();
            },
            [this](get_count) {
              return count_;
            }};
  }

 private:
  countdown* all_in_;
  int count_ = 0;
};

void pause_randomly(std::minstd_rand& rng) {
  switch (rng() % 8) {
    case 0:
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 201));
      break;
    case 1:
    case 2:
    case 3: {
      auto until = std::chrono::steady_clock::now() +
                   std::chrono::microseconds(rng() % 20);
      while (std::chrono::steady_clock::now() < until) {
      }
      break;
    }
    default:
      std::this_thread::yield();
      break;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stress)

BOOST_AUTO_TEST_CASE(many_threads_into_one_actor_deliver_each_message_once) {
  courier::test::time_limit guard{std::chrono::seconds(120)};
  const std::uint32_t threads = 8;
  const std::uint64_t per_thread = scaled(1'000'000, 10'000);
  box<tally> out;
  std::atomic<std::uint64_t> dead{0};
  courier::system sys{courier::system_config{
      .loops = 2, .on_dead_letter = [&](const courier::dead_letter&) {
        ++dead;
      }}};
  auto target = sys.spawn<sink>(threads, threads * per_thread, &out);
  std::vector<std::thread> senders;
  for (std::uint32_t t = 0; t < threads; ++t) {
    senders.emplace_back([target, t, per_thread] {
      std::minstd_rand rng(t + 1);
      std::uint64_t next_pause = 1000 + rng() % 4000;
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        target.tell(item{t, static_cast<std::uint32_t>(i), i * threads + t});
        if (i == next_pause) {
          pause_randomly(rng);
          next_pause += 1000 + rng() % 4000;
        }
      }
    });
  }
  for (auto& s : senders) {
    s.join();
  }
  BOOST_REQUIRE(out.wait_for(60s));
  auto result = out.get();
  const std::uint64_t n = threads * per_thread;
  BOOST_TEST(result.total == n);
  BOOST_TEST(result.sum == n * (n - 1) / 2);
  BOOST_TEST(result.out_of_order == 0u);
  for (std::uint32_t t = 0; t < threads; ++t) {
    BOOST_TEST(result.per_thread[t] == per_thread);
  }
  BOOST_TEST(dead.load() == 0u);
  BOOST_TEST(sys.metrics().dead_letters == 0u);
}

BOOST_AUTO_TEST_CASE(repeated_spawn_send_ask_shutdown_cycles_lose_nothing) {
  courier::test::time_limit guard{std::chrono::seconds(120)};
  const int rounds = static_cast<int>(scaled(200, 20));
  const int per_thread = 1000;
  for (int round = 0; round < rounds; ++round) {
    countdown all_in(2 * per_thread);
    std::atomic<int> first_count{0};
    std::atomic<int> second_count{0};
    std::atomic<std::uint64_t> dead{0};
    {
      courier::system sys{courier::system_config{
          .loops = 2, .on_dead_letter = [&](const courier::dead_letter&) {
            ++dead;
          }}};
      auto target = sys.spawn<bump_counter>(&all_in);
      auto send = [target, per_thread](std::atomic<int>* seen) {
        for (int i = 0; i < per_thread; ++i) {
          target.tell(bump{});
        }
        try {
          seen->store(target.ask<int>(get_count{}, {.timeout = 20s}).get());
        } catch (const courier::ask_error&) {
          seen->store(-1);
        }
      };
      std::thread a(send, &first_count);
      std::thread b(send, &second_count);
      a.join();
      b.join();
      BOOST_REQUIRE(all_in.wait_for(20s));
      BOOST_TEST(target.ask<int>(get_count{}).get() == 2 * per_thread);
      sys.shutdown();
    }
    BOOST_TEST(first_count.load() >= per_thread);
    BOOST_TEST(second_count.load() >= per_thread);
    BOOST_TEST(dead.load() == 0u);
    if (dead.load() != 0 || first_count.load() < per_thread ||
        second_count.load() < per_thread) {
      BOOST_FAIL("round " << round << " lost or misrouted messages");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
