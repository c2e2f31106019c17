// Unit tests of the dashboard's defenses: item names that make no subject
// token are refused, the poller's sink skips (and counts) subjects it
// cannot publish instead of failing the poller, a supervisor restarts a
// poller that fails anyway (and gives up past its limit), and /metrics
// escapes label values.
#define BOOST_TEST_MODULE dashboard
#include "courier/courier.hpp"

#include "inventory.hpp"
#include "orders.hpp"
#include "supervisor.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace dashboard;

// Keeps the subjects of the events it gets.
class collector : public courier::actor {
 public:
  collector(courier::router r, std::shared_ptr<courier::test::box<bool>> got)
      : router_(std::move(r)), got_(std::move(got)) {}

 protected:
  void on_start() override { router_.subscribe("inventory.>", self()); }
  courier::behavior behavior() override {
    return {[this](const courier::event<courier::any_payload>& e) {
      if (e.subject() == "inventory.widget") {
        got_->set(true);
      }
    }};
  }

 private:
  courier::router router_;
  std::shared_ptr<courier::test::box<bool>> got_;
};

struct supervised_poller {
  explicit supervised_poller(std::function<void(const stock_levels&)> sink,
                             supervisor_options opts)
      : sys(courier::system_config{
            .loops = 2,
            .on_failure = [hook = hook](const courier::actor_failure& f) {
              (*hook)(f);
            }}) {
    ref = sys.spawn<supervisor>(
        sys, hook,
        [sink](courier::system& s) {
          return courier::spawn_poller<stock_levels>(
              s,
              [] {
                return stock_levels{{"widget", 1}};
              },
              sink, {.interval = 5ms, .changes_only = false});
        },
        std::move(opts), counters);
  }
  std::shared_ptr<failure_hook> hook = std::make_shared<failure_hook>();
  std::shared_ptr<supervision_counters> counters =
      std::make_shared<supervision_counters>();
  courier::system sys;
  courier::actor_ref ref;
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_item_must_be_one_subject_token) {
  for (const char* ok : {"widget", "a-b_1", "X9"}) {
    BOOST_TEST(item_error(ok) == nullptr, ok);
    BOOST_TEST(inventory_subject(ok) == std::string("inventory.") + ok);
  }
  for (std::string bad :
       std::vector<std::string>{"a b", "x..y", ">", "*", "a.b", "", "tab\there",
                                "caf\xc3\xa9", std::string(65, 'a')}) {
    BOOST_TEST(item_error(bad) != nullptr, bad);
  }
  for (std::string bad :
       std::vector<std::string>{"a b", "x..y", ">", "*", "a.b", "", "a\n"}) {
    BOOST_TEST(inventory_subject(bad).empty(), bad);
  }
}

BOOST_AUTO_TEST_CASE(the_sink_skips_subjects_it_cannot_publish) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto router = courier::router::of(sys);
  auto got = std::make_shared<courier::test::box<bool>>();
  sys.spawn<collector>(router, got);
  // The collector subscribes in on_start: wait until the router has it.
  BOOST_TEST(courier::test::poll_until(
      [&] { return router.stats().subscriptions.size() == 1u; }, 10s));
  auto skipped = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto poller = courier::spawn_poller<stock_levels>(
      sys,
      [] {
        return stock_levels{
            {"a b", 1}, {"x..y", 2}, {">", 3}, {"*", 4}, {"widget", 5}};
      },
      publish_stock_changes(router, skipped), {.interval = 5ms});
  BOOST_TEST(got->wait_for(10s));
  BOOST_TEST(courier::test::poll_until(
      [&] {
        return poller.ask<courier::poll_stats>(courier::get_poll_stats{})
                   .get()
                   .polls >= 3;
      },
      10s));
  BOOST_TEST(skipped->load() == 4u);  // once: the levels never change
  BOOST_TEST(sys.metrics().failures == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_poller_is_restarted) {
  courier::test::time_limit guard{30s};
  auto calls = std::make_shared<std::atomic<int>>(0);
  supervised_poller p(
      [calls](const stock_levels&) {
        if (calls->fetch_add(1) == 0) {
          throw std::runtime_error("the sink failed");
        }
      },
      {.name = "inventory", .delay = 1ms});
  BOOST_TEST(courier::test::poll_until(
      [&] { return p.counters->restarts.load() == 1u && calls->load() >= 3; },
      10s));
  // The supervisor answers for the new poller.
  auto stats = p.ref.ask<courier::poll_stats>(courier::get_poll_stats{}).get();
  BOOST_TEST(stats.successes >= 1u);
  BOOST_TEST(p.counters->failures.load() == 1u);
  BOOST_TEST(!p.counters->gave_up.load());
  BOOST_TEST(p.sys.metrics().failures == 1u);
}

BOOST_AUTO_TEST_CASE(a_supervisor_gives_up_past_max_restarts) {
  courier::test::time_limit guard{30s};
  supervised_poller p(
      [](const stock_levels&) { throw std::runtime_error("always"); },
      {.name = "inventory", .max_restarts = 3, .delay = 1ms});
  BOOST_TEST(courier::test::poll_until(
      [&] { return p.counters->gave_up.load(); }, 10s));
  BOOST_TEST(p.counters->failures.load() == 4u);
  BOOST_TEST(p.counters->restarts.load() == 3u);
  BOOST_CHECK_THROW(
      p.ref.ask<courier::poll_stats>(courier::get_poll_stats{}).get(),
      courier::ask_error);
}

BOOST_AUTO_TEST_CASE(metrics_escape_label_values) {
  auto c = std::make_shared<supervision_counters>();
  c->restarts = 2;
  courier::prometheus_writer w;
  supervision_metrics(w, {{"a\"b\\c\nd", c}});
  std::string text = w.str();
  BOOST_TEST(
      text.find("dashboard_actor_restarts_total{actor=\"a\\\"b\\\\c\\nd\"} "
                "2\n") != std::string::npos);
  BOOST_TEST(text.find("# TYPE dashboard_actor_given_up gauge\n") !=
             std::string::npos);
}
