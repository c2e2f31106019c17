#define BOOST_TEST_MODULE scheduling
// The scheduling model (docs/scheduling.md): the spin policy, driven with a
// synthetic clock, and its counters on a running system.

#include "courier/courier.hpp"

#include "loop.hpp"
#include "spin_policy.hpp"
#include "support/time_limit.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using courier::detail::spin_policy;

namespace {

spin_policy::clock::time_point at(std::chrono::microseconds t) {
  return spin_policy::clock::time_point{} + t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scheduling)

BOOST_AUTO_TEST_CASE(a_spin_that_pays_keeps_the_full_budget) {
  spin_policy p{50us};
  BOOST_TEST(p.budget(at(0us)).count() == spin_policy::duration(50us).count());
  p.hit();
  p.hit();
  BOOST_TEST(p.budget(at(10us)).count() == spin_policy::duration(50us).count());
  BOOST_TEST(p.hits() == 2u);
}

BOOST_AUTO_TEST_CASE(spins_that_run_out_shrink_to_a_floor_and_grow_back) {
  spin_policy p{64us};
  p.miss();
  BOOST_TEST(p.budget(at(0us)).count() == spin_policy::duration(32us).count());
  for (int i = 0; i < 20; ++i) {
    p.miss();
  }
  BOOST_TEST(p.budget(at(0us)).count() == spin_policy::duration(4us).count());
  BOOST_TEST(p.misses() == 21u);
  p.hit();
  BOOST_TEST(p.budget(at(0us)).count() == spin_policy::duration(64us).count());
}

BOOST_AUTO_TEST_CASE(a_preempted_spin_stops_spinning_for_a_growing_back_off) {
  spin_policy p{50us};
  p.preempted(at(1000us));
  BOOST_TEST(p.backoff().count() == spin_policy::duration(1ms).count());
  BOOST_TEST(p.budget(at(1500us)).count() == 0);
  BOOST_TEST(p.budget(at(2000us)).count() > 0);
  // Preempted again at once: twice as long, up to the cap.
  p.preempted(at(2000us));
  BOOST_TEST(p.backoff().count() == spin_policy::duration(2ms).count());
  BOOST_TEST(p.budget(at(3999us)).count() == 0);
  BOOST_TEST(p.budget(at(4000us)).count() > 0);
  for (int i = 0; i < 20; ++i) {
    p.preempted(at(5000us));
  }
  BOOST_TEST(p.backoff().count() == spin_policy::max_backoff.count());
  BOOST_TEST(p.preemptions() == 22u);
  // Undisturbed spins halve the back-off until it is gone.
  int calm_spins = 0;
  while (p.backoff().count() > 0) {
    p.hit();
    ++calm_spins;
  }
  BOOST_TEST(calm_spins == 8);  // 128 ms -> 64 ... -> 1 ms -> 0
}

BOOST_AUTO_TEST_CASE(no_budget_never_spins) {
  spin_policy p{0us};
  BOOST_TEST(p.budget(at(0us)).count() == 0);
  p.hit();
  BOOST_TEST(p.budget(at(0us)).count() == 0);
}

namespace {

struct ping {};

class echo : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](ping) {
      return 1;
    }};
  }
};

std::uint64_t spins(const courier::metrics& m) {
  std::uint64_t n = 0;
  for (const auto& l : m.loops) {
    n += l.spin_hits + l.spin_misses + l.spin_preemptions;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(loops_count_their_spins_and_spin_zero_turns_them_off) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  {
    courier::system sys{courier::system_config{.loops = 1}};
    auto e = sys.spawn<echo>();
    for (int i = 0; i < 200; ++i) {
      BOOST_REQUIRE(e.ask<int>(ping{}).get() == 1);
    }
    // Each ask from main is cross-thread work, after which the loop spins
    // (or finds the machine too busy to).
    BOOST_TEST(spins(sys.metrics()) > 0u);
  }
  {
    courier::system sys{courier::system_config{.loops = 1, .spin = 0us}};
    auto e = sys.spawn<echo>();
    for (int i = 0; i < 200; ++i) {
      BOOST_REQUIRE(e.ask<int>(ping{}).get() == 1);
    }
    BOOST_TEST(spins(sys.metrics()) == 0u);
  }
}

namespace {

// Records what ran, in order (loop thread only).
struct journal {
  std::vector<std::string> lines;
};

class recorder final : public courier::detail::turn_end_hook {
 public:
  recorder(journal& j, std::string name, int again = 0)
      : j_(j), name_(std::move(name)), again_(again) {}
  void at_turn_end() override {
    j_.lines.push_back(name_);
    if (again_-- > 0) {
      courier::detail::loop::current()->at_turn_end(*this);
    }
  }

 private:
  journal& j_;
  std::string name_;
  int again_;
};

struct note {
  std::string text;
};
struct start_turn {
  courier::actor_ref peer;
};
struct report {};

class turn_actor : public courier::actor {
 public:
  explicit turn_actor(journal* j) : j_(j) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const start_turn& s) {
          auto* here = courier::detail::loop::current();
          first_ = std::make_unique<recorder>(*j_, "hook");
          twice_ = std::make_unique<recorder>(*j_, "again", 2);
          cancelled_ = std::make_unique<recorder>(*j_, "cancelled");
          here->at_turn_end(*first_);
          here->at_turn_end(*first_);  // once per turn, however often asked
          here->at_turn_end(*cancelled_);
          here->at_turn_end(*twice_);
          here->cancel_turn_end(*cancelled_);
          j_->lines.push_back("handler");
          s.peer.tell(note{"peer"});
        },
        [this](const note& n) { j_->lines.push_back(n.text); },
        [this](report) { return j_->lines; },
    };
  }

 private:
  journal* j_;
  std::unique_ptr<recorder> first_;
  std::unique_ptr<recorder> twice_;
  std::unique_ptr<recorder> cancelled_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(turn_end_hooks_run_after_the_turns_actors) {
  courier::test::time_limit guard{std::chrono::seconds(60)};
  journal j;
  courier::system sys{courier::system_config{.loops = 1}};
  auto a = sys.spawn<turn_actor>(&j);
  auto b = sys.spawn<turn_actor>(&j);
  a.tell(start_turn{b});
  // A report handled in the same turn as start_turn would see the journal
  // before the hooks ran: ask until the re-registering hook ran its three
  // times (it always does within one process() call).
  std::vector<std::string> lines;
  for (int tries = 0; tries < 1000; ++tries) {
    lines = a.ask<std::vector<std::string>>(report{}).get();
    if (std::count(lines.begin(), lines.end(), "again") == 3) {
      break;
    }
  }
  std::vector<std::string> want{"handler", "peer",  "hook",
                                "again",   "again", "again"};
  BOOST_TEST(lines == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
