// Tests of the topic router: subjects and wildcards, typed delivery,
// auto-unsubscribe, replay then live without gap or duplicate under
// concurrent publishers, fetch, gap notices, every overflow policy with
// exact counts, per-publisher order, 10,000 subscribers, history limits.
#define BOOST_TEST_MODULE pubsub
#include "courier/pubsub.hpp"

#include "courier/courier.hpp"

#include "subject_trie.hpp"
#include "support/scale.hpp"
#include "support/time_limit.hpp"
#include "support/wait.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
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

struct order_created {
  int id = 0;
};
struct order_shipped {
  int id = 0;
  std::string carrier;
};
struct tagged {
  int publisher = 0;
  int n = 0;
};

// What a recorder actor saw, read by the test thread under the lock.
struct record_log {
  std::mutex mutex;
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> subjects;
  std::vector<std::string> notes;  // gap and cancel notices, in order
  std::vector<std::pair<int, int>> tags;

  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return seqs.size();
  }
  std::vector<std::uint64_t> seq_snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return seqs;
  }
  std::vector<std::string> notes_snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return notes;
  }
};

// Records every event (any payload) and notice it receives. When `gate` is
// set, the first event blocks until the gate opens (a slow subscriber).
class recorder : public courier::actor {
 public:
  explicit recorder(record_log* log, std::shared_ptr<box<bool>> gate = {},
                    std::shared_ptr<box<bool>> blocked = {})
      : log_(log), gate_(std::move(gate)), blocked_(std::move(blocked)) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const courier::event_ref& e) {
          if (gate_ && !waited_) {
            waited_ = true;
            blocked_->set(true);
            gate_->wait_for(60s);
          }
          std::lock_guard<std::mutex> lock(log_->mutex);
          log_->seqs.push_back(e.seq());
          log_->subjects.push_back(e.subject());
          if (const tagged* t = e.get_if<tagged>()) {
            log_->tags.emplace_back(t->publisher, t->n);
          }
        },
        [this](const courier::subscription_gap& g) {
          std::lock_guard<std::mutex> lock(log_->mutex);
          log_->notes.push_back("gap since " + std::to_string(g.since) +
                                " first " + std::to_string(g.first_available));
        },
        [this](const courier::subscription_cancelled& c) {
          std::lock_guard<std::mutex> lock(log_->mutex);
          log_->notes.push_back("cancelled: " + c.reason);
        },
    };
  }

 private:
  record_log* log_;
  std::shared_ptr<box<bool>> gate_;
  std::shared_ptr<box<bool>> blocked_;
  bool waited_ = false;
};

// Receives typed events.
class shipping_watcher : public courier::actor {
 public:
  explicit shipping_watcher(box<std::string>* out) : out_(out) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const courier::event<order_shipped>& e) {
      out_->set(e.subject() + " #" + std::to_string(e.payload().id) + " " +
                e.payload().carrier + " seq " + std::to_string(e.seq()) +
                (e.time().time_since_epoch().count() > 0 ? " timed" : ""));
    }};
  }

 private:
  box<std::string>* out_;
};

// Counts events on a shared counter (for many subscribers).
class counter_actor : public courier::actor {
 public:
  explicit counter_actor(countdown* c) : c_(c) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const courier::event_ref&) {
      c_->count_down();
    }};
  }

 private:
  countdown* c_;
};

std::uint64_t last_seq(const courier::router& r) {
  return r.fetch(">", 0, 0).last;
}

}  // namespace

BOOST_AUTO_TEST_CASE(subject_and_pattern_rules) {
  BOOST_TEST(courier::valid_subject("orders"));
  BOOST_TEST(courier::valid_subject("orders.eu.created"));
  BOOST_TEST(!courier::valid_subject(""));
  BOOST_TEST(!courier::valid_subject("orders..created"));
  BOOST_TEST(!courier::valid_subject(".orders"));
  BOOST_TEST(!courier::valid_subject("orders."));
  BOOST_TEST(!courier::valid_subject("orders.*"));
  BOOST_TEST(!courier::valid_subject("orders.>"));
  BOOST_TEST(!courier::valid_subject("orders created"));
  BOOST_TEST(courier::valid_pattern("orders.*"));
  BOOST_TEST(courier::valid_pattern("orders.>"));
  BOOST_TEST(courier::valid_pattern(">"));
  BOOST_TEST(courier::valid_pattern("*.*"));
  BOOST_TEST(!courier::valid_pattern("orders.>.created"));
  BOOST_TEST(!courier::valid_pattern("orders.a*"));
  BOOST_TEST(!courier::valid_pattern("orders.>>"));
  BOOST_TEST(!courier::valid_pattern("orders..*"));
  BOOST_CHECK_THROW(courier::check_subject("a.*"), std::invalid_argument);
  try {
    courier::check_subject("orders..x");
    BOOST_FAIL("no throw");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("orders..x") != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("empty token") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(wildcard_matching_table) {
  struct row {
    const char* pattern;
    const char* subject;
    bool match;
  };
  const row rows[] = {
      {"a", "a", true},
      {"a", "b", false},
      {"a.b", "a.b", true},
      {"a.b", "a", false},
      {"a", "a.b", false},
      {"a.*", "a.b", true},
      {"a.*", "a", false},
      {"a.*", "a.b.c", false},  // '*' does not cross dots
      {"*.b", "a.b", true},
      {"*", "a", true},
      {"*", "a.b", false},
      {"a.>", "a", false},  // '>' needs at least one token
      {"a.>", "a.b", true},
      {"a.>", "a.b.c.d", true},
      {">", "a", true},
      {">", "a.b.c", true},
      {"a.*.c", "a.b.c", true},
      {"a.*.c", "a.b.d", false},
      {"a.*.>", "a.b", false},
      {"a.*.>", "a.b.c", true},
      {"*.*.*", "a.b.c", true},
      {"*.*.*", "a.b", false},
      {"orders.eu", "orders.eu.x", false},
  };
  courier::detail::subject_trie trie;
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    trie.insert(rows[i].pattern, i);
  }
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const row& r = rows[i];
    BOOST_TEST_INFO(r.pattern << " vs " << r.subject);
    BOOST_TEST(courier::subject_matches(r.pattern, r.subject) == r.match);
    bool trie_match = false;
    trie.match(r.subject,
               [&](std::uint64_t id) { trie_match = trie_match || id == i; });
    BOOST_TEST(trie_match == r.match);
  }
}

// The trie and the plain matcher agree on random patterns and subjects,
// also after erasures.
BOOST_AUTO_TEST_CASE(trie_agrees_with_the_plain_matcher) {
  std::mt19937 rng(7);
  const char* words[] = {"a", "b", "c"};
  auto make = [&](bool pattern) {
    std::string s;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i > 0) {
        s += '.';
      }
      unsigned pick = rng() % 5;
      if (pattern && pick == 3) {
        s += '*';
      } else if (pattern && pick == 4 && i == n - 1) {
        s += '>';
      } else {
        s += words[rng() % 3];
      }
    }
    return s;
  };
  courier::detail::subject_trie trie;
  std::map<std::uint64_t, std::string> patterns;
  for (std::uint64_t id = 1; id <= 300; ++id) {
    patterns[id] = make(true);
    trie.insert(patterns[id], id);
  }
  for (std::uint64_t id = 1; id <= 300; id += 3) {
    BOOST_TEST(trie.erase(patterns[id], id));
    patterns.erase(id);
  }
  BOOST_TEST(trie.size() == patterns.size());
  for (int i = 0; i < 500; ++i) {
    std::string subject = make(false);
    std::set<std::uint64_t> expected;
    for (const auto& [id, p] : patterns) {
      if (courier::subject_matches(p, subject)) {
        expected.insert(id);
      }
    }
    std::set<std::uint64_t> got;
    trie.match(subject, [&](std::uint64_t id) { got.insert(id); });
    BOOST_TEST_INFO(subject);
    BOOST_TEST((got == expected));
  }
}

BOOST_AUTO_TEST_CASE(a_typed_subscriber_gets_its_type_and_bad_names_throw) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  box<std::string> shipped;
  auto watcher = sys.spawn<shipping_watcher>(&shipped);
  record_log all;
  auto rec = sys.spawn<recorder>(&all);
  r.subscribe<order_shipped>("orders.*", watcher);
  r.subscribe("orders.>", rec);
  BOOST_CHECK_THROW(r.publish("orders.*", order_created{1}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(r.publish("", order_created{1}), std::invalid_argument);
  BOOST_CHECK_THROW(r.subscribe("orders.>.x", rec), std::invalid_argument);
  r.publish("orders.created", order_created{1});
  r.publish("orders.shipped", order_shipped{1, "ups"});
  BOOST_REQUIRE(shipped.wait_for(10s));
  BOOST_TEST(shipped.get() == "orders.shipped #1 ups seq 2 timed");
  BOOST_REQUIRE(poll_until([&] { return all.size() == 2; }, 10s));
  std::lock_guard<std::mutex> lock(all.mutex);
  BOOST_TEST(all.seqs == (std::vector<std::uint64_t>{1, 2}));
  BOOST_TEST(all.subjects ==
             (std::vector<std::string>{"orders.created", "orders.shipped"}));
  // The same router: router::of returns one per system.
  BOOST_TEST((courier::router::of(sys).ref() == r.ref()));
  BOOST_TEST(courier::router::of(sys).epoch() == r.epoch());
  BOOST_TEST(r.epoch().size() == 8u);
}

BOOST_AUTO_TEST_CASE(subscriptions_end_with_their_actor_and_by_unsubscribe) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  record_log a_log;
  record_log b_log;
  auto a = sys.spawn<recorder>(&a_log);
  auto b = sys.spawn<recorder>(&b_log);
  r.subscribe("x.*", a);
  r.subscribe("x.>", a);
  auto sb = r.subscribe("x.y", b);
  r.publish("x.y", 1);
  BOOST_REQUIRE(poll_until([&] { return a_log.size() == 2; }, 10s));
  BOOST_REQUIRE(poll_until([&] { return b_log.size() == 1; }, 10s));
  BOOST_TEST(r.stats().subscriptions.size() == 3u);
  sys.stop(a);
  BOOST_REQUIRE(
      poll_until([&] { return r.stats().subscriptions.size() == 1; }, 10s));
  sb.unsubscribe();
  BOOST_REQUIRE(
      poll_until([&] { return r.stats().subscriptions.empty(); }, 10s));
  r.publish("x.y", 2);
  // A fence: a fresh subscriber that sees the next event proves the one
  // before it was routed (and went nowhere).
  record_log fence_log;
  auto fence = sys.spawn<recorder>(&fence_log);
  r.subscribe("x.y", fence);
  r.publish("x.y", 3);
  BOOST_REQUIRE(poll_until([&] { return fence_log.size() == 1; }, 10s));
  BOOST_TEST(b_log.size() == 1u);
  BOOST_TEST(sys.metrics().dead_letters == 0u);
}

// Four publisher threads keep publishing while a subscriber joins with
// `since`: it must see every sequence number after `since` exactly once,
// in order, across the replay/live boundary.
BOOST_AUTO_TEST_CASE(replay_then_live_has_no_gap_and_no_duplicate) {
  courier::test::time_limit guard{120s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::named(sys, "replay");
  const int per_thread = static_cast<int>(courier::test::scaled(5000, 500));
  const int threads = 4;
  std::atomic<bool> go{false};
  std::vector<std::thread> pubs;
  for (int t = 0; t < threads; ++t) {
    pubs.emplace_back([&, t] {
      while (!go.load()) {
        std::this_thread::yield();
      }
      for (int i = 0; i < per_thread; ++i) {
        r.publish("t." + std::to_string(t), tagged{t, i});
      }
    });
  }
  go = true;
  // Join while they publish, from a point already in history.
  BOOST_REQUIRE(poll_until([&] { return last_seq(r) >= 100; }, 30s));
  std::uint64_t since = last_seq(r) - 50;
  record_log log;
  auto sub = sys.spawn<recorder>(&log);
  r.subscribe("t.>", sub, {.since = since, .max_in_flight = 1000000});
  for (auto& p : pubs) {
    p.join();
  }
  const std::uint64_t total = static_cast<std::uint64_t>(threads) * per_thread;
  BOOST_REQUIRE(poll_until([&] { return log.size() >= total - since; }, 60s));
  auto seqs = log.seq_snapshot();
  BOOST_REQUIRE(seqs.size() == total - since);
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != since + 1 + i) {
      BOOST_FAIL("sequence " << since + 1 + i << " expected, got " << seqs[i]);
    }
  }
  BOOST_TEST(log.notes_snapshot().empty());
}

BOOST_AUTO_TEST_CASE(events_of_one_publisher_arrive_in_publish_order) {
  courier::test::time_limit guard{120s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  record_log log;
  auto sub = sys.spawn<recorder>(&log);
  r.subscribe("p.*", sub, {.max_in_flight = 1000000});
  BOOST_REQUIRE(
      poll_until([&] { return r.stats().subscriptions.size() == 1; }, 10s));
  const int per_thread = static_cast<int>(courier::test::scaled(10000, 500));
  std::vector<std::thread> pubs;
  for (int t = 0; t < 4; ++t) {
    pubs.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        r.publish("p." + std::to_string(t % 2), tagged{t, i});
      }
    });
  }
  for (auto& p : pubs) {
    p.join();
  }
  BOOST_REQUIRE(poll_until(
      [&] { return log.size() == static_cast<std::size_t>(4 * per_thread); },
      60s));
  std::lock_guard<std::mutex> lock(log.mutex);
  std::map<int, int> next;
  for (auto [pub, n] : log.tags) {
    BOOST_REQUIRE(n == next[pub]);
    ++next[pub];
  }
  BOOST_TEST(std::is_sorted(log.seqs.begin(), log.seqs.end()));
}

BOOST_AUTO_TEST_CASE(fetch_returns_matching_events_after_since) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto r =
      courier::router::named(sys, "fetch", {.history = {.max_events = 50}});
  for (int i = 1; i <= 40; ++i) {
    r.publish(i % 2 == 1 ? "a.x" : "b.y", i);
  }
  auto f = r.fetch("a.*", 0, 5);
  BOOST_TEST(!f.reset);
  BOOST_REQUIRE(f.events.size() == 5u);
  BOOST_TEST(f.events[0].seq() == 1u);
  BOOST_TEST(f.events[4].seq() == 9u);
  BOOST_TEST(*f.events[4].get_if<int>() == 9);
  BOOST_TEST(f.next == 9u);
  BOOST_TEST(f.last == 40u);
  auto g = r.fetch("a.*", f.next, 100);
  BOOST_TEST(g.events.size() == 15u);
  BOOST_TEST(g.events.front().seq() == 11u);
  BOOST_TEST(g.next == 40u);
  auto none = r.fetch("a.*", 40, 100);
  BOOST_TEST(none.events.empty());
  BOOST_TEST(none.next == 40u);
  // History keeps 50: after 80 events, 1..30 are gone.
  for (int i = 41; i <= 80; ++i) {
    r.publish("a.x", i);
  }
  auto old = r.fetch(">", 10, 3);
  BOOST_TEST(old.reset);
  BOOST_TEST(old.first_available == 31u);
  BOOST_REQUIRE(old.events.size() == 3u);
  BOOST_TEST(old.events[0].seq() == 31u);
  BOOST_TEST(old.next == 33u);
  // A cursor from the future (another epoch) resets too.
  BOOST_TEST(r.fetch(">", 1000, 1).reset);
  BOOST_CHECK_THROW(r.fetch("a..b", 0, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_gap_notice_comes_before_a_replay_history_cannot_cover) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::named(sys, "gap", {.history = {.max_events = 10}});
  for (int i = 1; i <= 30; ++i) {
    r.publish("g.x", i);
  }
  record_log log;
  auto sub = sys.spawn<recorder>(&log);
  r.subscribe("g.>", sub, {.since = 5});
  BOOST_REQUIRE(poll_until([&] { return log.size() == 10; }, 10s));
  BOOST_TEST(log.notes_snapshot() ==
             (std::vector<std::string>{"gap since 5 first 21"}));
  auto seqs = log.seq_snapshot();
  BOOST_TEST(seqs.front() == 21u);
  BOOST_TEST(seqs.back() == 30u);
  // Within history: no notice.
  record_log log2;
  auto sub2 = sys.spawn<recorder>(&log2);
  r.subscribe("g.>", sub2, {.since = 25});
  BOOST_REQUIRE(poll_until([&] { return log2.size() == 5; }, 10s));
  BOOST_TEST(log2.notes_snapshot().empty());
}

namespace {

struct overflow_run {
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> notes;
  courier::router_stats stats;
};

// A subscriber (bound 10) blocks in its first event until all `n` events
// are published, so the rest overflow.
overflow_run run_overflow(courier::overflow_policy policy, int n) {
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::named(sys, "overflow", {.loop = std::uint16_t{1}});
  record_log log;
  auto gate = std::make_shared<box<bool>>();
  auto blocked = std::make_shared<box<bool>>();
  auto sub = sys.spawn<recorder>(courier::spawn_options{.loop = 0}, &log, gate,
                                 blocked);
  r.subscribe("o.x", sub, {.max_in_flight = 10, .on_overflow = policy});
  r.publish("o.x", 0);
  BOOST_REQUIRE(blocked->wait_for(10s));
  for (int i = 1; i < n; ++i) {
    r.publish("o.x", i);
  }
  // fetch is answered by the router alone (the shard of loop 0 is stuck
  // behind the subscriber): every event has been routed once it answers.
  BOOST_REQUIRE(last_seq(r) == static_cast<std::uint64_t>(n));
  gate->set(true);
  overflow_run out;
  BOOST_REQUIRE(poll_until(
      [&] {
        out.stats = r.stats();
        std::uint64_t in_flight = 0;
        for (const auto& s : out.stats.subscriptions) {
          in_flight += s.in_flight;
        }
        return in_flight == 0 && (policy == courier::overflow_policy::cancel
                                      ? !log.notes_snapshot().empty()
                                      : log.size() + out.stats.dropped ==
                                            static_cast<std::size_t>(n));
      },
      20s));
  out.seqs = log.seq_snapshot();
  out.notes = log.notes_snapshot();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(drop_newest_keeps_the_first_and_counts_every_drop) {
  courier::test::time_limit guard{60s};
  const int n = 2000;
  overflow_run run = run_overflow(courier::overflow_policy::drop_newest, n);
  BOOST_TEST(run.seqs.size() + run.stats.dropped ==
             static_cast<std::size_t>(n));
  BOOST_TEST(run.stats.dropped > 0u);
  BOOST_TEST(std::is_sorted(run.seqs.begin(), run.seqs.end()));
  // The first 10 after the blocked one were taken before any overflow.
  BOOST_REQUIRE(run.seqs.size() >= 11u);
  for (std::uint64_t i = 0; i < 11; ++i) {
    BOOST_TEST(run.seqs[i] == i + 1);
  }
  BOOST_REQUIRE(run.stats.subjects.size() == 1u);
  BOOST_TEST(run.stats.subjects[0].dropped == run.stats.dropped);
  BOOST_REQUIRE(run.stats.subscriptions.size() == 1u);
  BOOST_TEST(run.stats.subscriptions[0].dropped == run.stats.dropped);
  BOOST_TEST(run.stats.subscriptions[0].delivered == run.seqs.size());
}

BOOST_AUTO_TEST_CASE(drop_oldest_keeps_the_newest_and_counts_every_drop) {
  courier::test::time_limit guard{60s};
  const int n = 2000;
  overflow_run run = run_overflow(courier::overflow_policy::drop_oldest, n);
  BOOST_TEST(run.seqs.size() + run.stats.dropped ==
             static_cast<std::size_t>(n));
  BOOST_TEST(run.stats.dropped > 0u);
  BOOST_TEST(std::is_sorted(run.seqs.begin(), run.seqs.end()));
  BOOST_TEST(run.seqs.back() == static_cast<std::uint64_t>(n));
  BOOST_REQUIRE(run.stats.subjects.size() == 1u);
  BOOST_TEST(run.stats.subjects[0].dropped == run.stats.dropped);
  BOOST_TEST(run.stats.subscriptions[0].dropped == run.stats.dropped);
}

BOOST_AUTO_TEST_CASE(cancel_ends_the_subscription_with_a_notice) {
  courier::test::time_limit guard{60s};
  const int n = 2000;
  overflow_run run = run_overflow(courier::overflow_policy::cancel, n);
  BOOST_REQUIRE(run.notes.size() == 1u);
  BOOST_TEST(run.notes[0].find("cancelled: more than 10 events in flight") ==
             0u);
  BOOST_TEST(run.stats.subscriptions.empty());
  // Only the event in hand was handled: the rest went with the
  // subscription, and all of them are counted.
  BOOST_TEST(run.seqs == (std::vector<std::uint64_t>{1}));
  BOOST_TEST(run.stats.dropped >= 10u);
}

BOOST_AUTO_TEST_CASE(ten_thousand_subscribers) {
  courier::test::time_limit guard{120s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  const int subs = static_cast<int>(courier::test::scaled(10000, 1000));
  const int events = 10;
  countdown got(static_cast<std::ptrdiff_t>(subs) * events);
  for (int i = 0; i < subs; ++i) {
    r.subscribe("fan.out", sys.spawn<counter_actor>(&got));
  }
  BOOST_REQUIRE(poll_until(
      [&] {
        return r.stats().subscriptions.size() == static_cast<std::size_t>(subs);
      },
      60s));
  for (int e = 0; e < events; ++e) {
    r.publish("fan.out", std::string(1000, 'x'));
  }
  BOOST_REQUIRE(got.wait_for(60s));
  auto st = r.stats();
  BOOST_REQUIRE(st.subjects.size() == 1u);
  BOOST_TEST(st.subjects[0].routed ==
             static_cast<std::uint64_t>(subs) * events);
  BOOST_TEST(st.dropped == 0u);
  // The payload is shared: history holds 10 records of ~1 KB, not 100,000.
  BOOST_TEST(st.history_bytes < 20000u);
}

BOOST_AUTO_TEST_CASE(history_is_bounded_by_bytes_and_by_age) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 1}};
  auto by_bytes = courier::router::named(
      sys, "bytes", {.history = {.max_events = 1000, .max_bytes = 20000}});
  for (int i = 0; i < 100; ++i) {
    by_bytes.publish("h.x", std::string(1000, 'x'));
  }
  auto st = by_bytes.stats();
  BOOST_TEST(st.history_bytes <= 20000u);
  BOOST_TEST(st.history_events < 20u);
  BOOST_TEST(st.history_events > 10u);
  BOOST_TEST(st.last_seq == 100u);
  BOOST_TEST(st.first_seq == 100u - st.history_events + 1);

  auto by_age = courier::router::named(
      sys, "age", {.history = {.max_age = std::chrono::milliseconds(50)}});
  for (int i = 0; i < 10; ++i) {
    by_age.publish("h.y", i);
  }
  BOOST_TEST(by_age.stats().history_events <= 10u);
  BOOST_REQUIRE(
      poll_until([&] { return by_age.stats().history_events == 0; }, 10s));
  auto f = by_age.fetch(">", 0, 10);
  BOOST_TEST(f.reset);
  BOOST_TEST(f.events.empty());
  BOOST_TEST(f.first_available == 11u);
  // Named routers keep separate logs.
  BOOST_TEST(courier::router::of(sys).stats().last_seq == 0u);
}

BOOST_AUTO_TEST_CASE(a_poller_publishes_to_a_topic) {
  courier::test::time_limit guard{30s};
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = courier::router::of(sys);
  record_log log;
  auto sub = sys.spawn<recorder>(&log);
  r.subscribe("inventory.>", sub);
  BOOST_REQUIRE(
      poll_until([&] { return r.stats().subscriptions.size() == 1; }, 10s));
  auto n = std::make_shared<int>(0);
  courier::spawn_poller<int>(
      sys, [n] { return ++*n; }, courier::publish_to<int>(r, "inventory.stock"),
      {.interval = std::chrono::milliseconds(1), .max_polls = 3});
  BOOST_REQUIRE(poll_until([&] { return log.size() == 3; }, 10s));
  auto f = r.fetch("inventory.stock", 0, 10);
  BOOST_REQUIRE(f.events.size() == 3u);
  BOOST_TEST(*f.events[2].get_if<int>() == 3);
  BOOST_CHECK_THROW(courier::publish_to<int>(r, "inventory.*"),
                    std::invalid_argument);
}
