// Tests of actor_ref: a small value type that addresses an actor.
#define BOOST_TEST_MODULE actor_ref
#include "courier/actor_ref.hpp"

#include "courier/courier.hpp"

#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <type_traits>
#include <unordered_set>

namespace {

using namespace std::chrono_literals;

struct greeting {
  int value;
};

struct forward_greeting {
  courier::actor_ref to;
  int value;
};

class listener : public courier::actor {
 public:
  explicit listener(courier::test::box<int>* seen) : seen_(seen) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const greeting& g) {
      seen_->set(g.value);
    }};
  }

 private:
  courier::test::box<int>* seen_;
};

class relay : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](const forward_greeting& f) {
      f.to.tell(greeting{f.value});
    }};
  }
};

class idle : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](greeting) {
    }};
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(actor_ref)

BOOST_AUTO_TEST_CASE(is_a_small_trivially_copyable_value) {
  static_assert(std::is_trivially_copyable_v<courier::actor_ref>);
  static_assert(sizeof(courier::actor_ref) <= 16);
  static_assert(std::is_nothrow_default_constructible_v<courier::actor_ref>);
  BOOST_TEST(sizeof(courier::actor_ref) <= 16u);
}

BOOST_AUTO_TEST_CASE(default_constructed_ref_is_invalid) {
  courier::actor_ref r;
  BOOST_TEST(!r.valid());
  BOOST_TEST((r == courier::actor_ref{}));
  BOOST_TEST(r.hash() == courier::actor_ref{}.hash());
}

BOOST_AUTO_TEST_CASE(refs_of_two_spawned_actors_are_valid_and_differ) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto a = sys.spawn<idle>();
  auto b = sys.spawn<idle>();
  BOOST_TEST(a.valid());
  BOOST_TEST(b.valid());
  BOOST_TEST((a != b));
  BOOST_TEST((a != courier::actor_ref{}));
  courier::actor_ref copy = a;
  BOOST_TEST((copy == a));
  BOOST_TEST(copy.hash() == a.hash());
  BOOST_TEST(std::hash<courier::actor_ref>{}(a) == a.hash());
}

BOOST_AUTO_TEST_CASE(refs_work_as_unordered_set_keys) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 2}};
  std::unordered_set<courier::actor_ref> refs;
  for (int i = 0; i < 50; ++i) {
    refs.insert(sys.spawn<idle>());
  }
  BOOST_TEST(refs.size() == 50u);
  auto first = *refs.begin();
  refs.insert(first);
  BOOST_TEST(refs.size() == 50u);
  BOOST_TEST(refs.count(first) == 1u);
  BOOST_TEST(refs.count(courier::actor_ref{}) == 0u);
}

BOOST_AUTO_TEST_CASE(ref_sent_inside_a_message_can_be_told) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::test::box<int> seen;
  courier::system sys{courier::system_config{.loops = 2}};
  auto target = sys.spawn<listener>(&seen);
  auto middle = sys.spawn<relay>();
  middle.tell(forward_greeting{target, 42});
  BOOST_REQUIRE(seen.wait_for(10s));
  BOOST_TEST(seen.get() == 42);
}

BOOST_AUTO_TEST_SUITE_END()
