// Tests of behavior: typed handler dispatch and become() inside an actor.
#define BOOST_TEST_MODULE behavior
#include "courier/behavior.hpp"

#include "courier/courier.hpp"

#include "support/time_limit.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using courier::detail::envelope;

struct ping {
  int n;
};

struct pong {
  int n;
};

struct unknown {};

struct payload {
  std::unique_ptr<int> value;
};

struct query {};
struct switch_mode {};

template <class T, class... Args>
envelope make(Args&&... args) {
  envelope e;
  e.emplace<T>(std::forward<Args>(args)...);
  return e;
}

class two_faced : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](query) { return std::string("a"); },
            [this](switch_mode) {
              become({[](query) { return std::string("b"); },
                      [](switch_mode) {
                      }});
            }};
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(behavior)

BOOST_AUTO_TEST_CASE(default_behavior_is_empty_and_handles_nothing) {
  courier::behavior b;
  BOOST_TEST(b.empty());
  auto e = make<ping>(ping{1});
  BOOST_TEST(!b.invoke(e));
}

BOOST_AUTO_TEST_CASE(handler_is_chosen_by_message_type) {
  std::vector<std::string> calls;
  courier::behavior b{
      [&](const ping& p) { calls.push_back("ping" + std::to_string(p.n)); },
      [&](const pong& p) {
        calls.push_back("pong" + std::to_string(p.n));
      }};
  BOOST_TEST(!b.empty());
  auto e1 = make<pong>(pong{2});
  auto e2 = make<ping>(ping{1});
  BOOST_TEST(b.invoke(e1));
  BOOST_TEST(b.invoke(e2));
  BOOST_TEST(calls == (std::vector<std::string>{"pong2", "ping1"}));
}

BOOST_AUTO_TEST_CASE(const_ref_parameter_sees_the_message_unchanged) {
  int seen = 0;
  courier::behavior b{[&](const payload& p) {
    seen = *p.value;
  }};
  auto e = make<payload>(payload{std::make_unique<int>(5)});
  BOOST_TEST(b.invoke(e));
  BOOST_TEST(seen == 5);
  BOOST_REQUIRE(e.get<payload>().value != nullptr);
  BOOST_TEST(*e.get<payload>().value == 5);
}

BOOST_AUTO_TEST_CASE(by_value_parameter_receives_the_moved_message) {
  int seen = 0;
  courier::behavior b{[&](payload p) {
    seen = *p.value;
  }};
  auto e = make<payload>(payload{std::make_unique<int>(6)});
  BOOST_TEST(b.invoke(e));
  BOOST_TEST(seen == 6);
  BOOST_TEST(e.get<payload>().value == nullptr);
}

BOOST_AUTO_TEST_CASE(lvalue_ref_parameter_can_modify_the_message) {
  courier::behavior b{[](payload& p) {
    *p.value = 99;
  }};
  auto e = make<payload>(payload{std::make_unique<int>(7)});
  BOOST_TEST(b.invoke(e));
  BOOST_REQUIRE(e.get<payload>().value != nullptr);
  BOOST_TEST(*e.get<payload>().value == 99);
}

BOOST_AUTO_TEST_CASE(rvalue_ref_parameter_can_take_the_message_apart) {
  std::unique_ptr<int> taken;
  courier::behavior b{[&](payload&& p) {
    taken = std::move(p.value);
  }};
  auto e = make<payload>(payload{std::make_unique<int>(8)});
  BOOST_TEST(b.invoke(e));
  BOOST_REQUIRE(taken != nullptr);
  BOOST_TEST(*taken == 8);
  BOOST_TEST(e.get<payload>().value == nullptr);
}

BOOST_AUTO_TEST_CASE(mutable_lambda_keeps_its_state_between_calls) {
  int last = 0;
  courier::behavior b{[&last, count = 0](ping) mutable {
    last = ++count;
  }};
  for (int i = 0; i < 3; ++i) {
    auto e = make<ping>(ping{i});
    BOOST_TEST(b.invoke(e));
  }
  BOOST_TEST(last == 3);
}

BOOST_AUTO_TEST_CASE(first_handler_wins_on_duplicate_type) {
  std::vector<int> calls;
  courier::behavior b{[&](const ping&) { calls.push_back(1); },
                      [&](ping) { calls.push_back(2); },
                      [&](pong) {
                        calls.push_back(3);
                      }};
  auto e = make<ping>(ping{0});
  BOOST_TEST(b.invoke(e));
  BOOST_TEST(calls == std::vector<int>{1});
}

BOOST_AUTO_TEST_CASE(invoke_returns_false_for_unknown_type) {
  int calls = 0;
  courier::behavior b{[&](ping) {
    ++calls;
  }};
  auto e = make<unknown>();
  BOOST_TEST(!b.invoke(e));
  BOOST_TEST(calls == 0);
  BOOST_TEST(e.type() == courier::detail::type_of<unknown>());
}

BOOST_AUTO_TEST_CASE(handler_returning_a_value_runs_for_a_tell) {
  int calls = 0;
  courier::behavior b{[&](ping p) {
    ++calls;
    return p.n * 2;
  }};
  auto e = make<ping>(ping{4});
  BOOST_TEST(b.invoke(e));
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(exception_from_handler_propagates_out_of_invoke) {
  courier::behavior b{[](ping) {
    throw std::runtime_error("handler failed");
  }};
  auto e = make<ping>(ping{0});
  BOOST_CHECK_THROW(b.invoke(e), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(behavior_is_movable) {
  int calls = 0;
  courier::behavior a{[&](ping) {
    ++calls;
  }};
  courier::behavior b = std::move(a);
  auto e = make<ping>(ping{0});
  BOOST_TEST(b.invoke(e));
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(become_switches_behavior_inside_an_actor) {
  courier::test::time_limit guard{std::chrono::seconds(30)};
  courier::system sys{courier::system_config{.loops = 1}};
  auto ref = sys.spawn<two_faced>();
  BOOST_TEST(ref.ask<std::string>(query{}).get() == "a");
  BOOST_TEST(ref.ask<std::string>(query{}).get() == "a");
  ref.tell(switch_mode{});
  BOOST_TEST(ref.ask<std::string>(query{}).get() == "b");
  BOOST_TEST(ref.ask<std::string>(query{}).get() == "b");
}

BOOST_AUTO_TEST_SUITE_END()
