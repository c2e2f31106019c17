// pubsub: an order service publishes orders.created and orders.shipped; an
// email actor and an analytics actor subscribe without knowing who
// publishes. A deliberately slow archiver shows the overflow policy: it
// keeps at most 5 events in flight, drops the oldest, sees the drops as
// jumps in the sequence numbers, and the router counts every drop.
//
//   pubsub [--orders N]   (default 40)

#include "courier/courier.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct order_created {
  int id;
  std::string item;
  int quantity;
};
struct order_shipped {
  int id;
  std::string carrier;
};
struct report {};

// Publishes one order every 5 ms, and ships every other one.
class order_service : public courier::actor {
 public:
  order_service(courier::router r, int orders)
      : r_(std::move(r)), left_(orders) {}

 protected:
  courier::behavior behavior() override {
    return {[this](report) {
      return done_;
    }};
  }
  void on_start() override {
    every("orders", 5ms, [this] {
      ++next_;
      r_.publish("orders.created",
                 order_created{next_, "widget", next_ % 4 + 1});
      if (next_ % 2 == 0) {
        r_.publish("orders.shipped", order_shipped{next_ - 1, "ups"});
      }
      if (--left_ == 0) {
        cancel_timer("orders");
        done_ = true;
      }
    });
  }

 private:
  courier::router r_;
  int left_;
  int next_ = 0;
  bool done_ = false;
};

// Typed: gets only order_created payloads.
class email : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](const courier::event<order_created>& e) {
      if (e.payload().id % 10 == 1) {  // print a few, not all
        std::printf(
            "email:     confirmation for order #%d (%d x %s), seq %llu\n",
            e.payload().id, e.payload().quantity, e.payload().item.c_str(),
            static_cast<unsigned long long>(e.seq()));
      }
    }};
  }
};

// A wildcard subscription: every orders.* event, whatever its payload.
class analytics : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](const courier::event_ref& e) { ++by_subject_[e.subject()]; },
            [this](report) {
              std::string out;
              for (const auto& [subject, n] : by_subject_) {
                out += subject + "=" + std::to_string(n) + " ";
              }
              return out;
            }};
  }

 private:
  std::map<std::string, int> by_subject_;
};

// Slow on purpose (20 ms per event, on a loop of its own so it slows no one
// else). It notices drops as jumps in the sequence numbers.
class archiver : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[this](const courier::event_ref& e) {
      std::this_thread::sleep_for(20ms);  // the slow disk
      if (last_ != 0 && e.seq() != last_ + 1) {
        std::printf("archiver:  missed %llu events (seq %llu -> %llu)\n",
                    static_cast<unsigned long long>(e.seq() - last_ - 1),
                    static_cast<unsigned long long>(last_),
                    static_cast<unsigned long long>(e.seq()));
      }
      last_ = e.seq();
    }};
  }

 private:
  std::uint64_t last_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int orders = 40;
  if (argc == 3 && std::string(argv[1]) == "--orders") {
    orders = std::atoi(argv[2]);
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: pubsub [--orders N]\n");
    return 2;
  }
  courier::system sys{courier::system_config{.loops = 3}};
  auto r = courier::router::of(sys);

  auto mail = sys.spawn<email>(courier::spawn_options{.loop = 0});
  auto stats = sys.spawn<analytics>(courier::spawn_options{.loop = 1});
  auto slow = sys.spawn<archiver>(courier::spawn_options{.loop = 2});
  r.subscribe<order_created>("orders.created", mail);
  r.subscribe("orders.>", stats);
  auto archive =
      r.subscribe("orders.>", slow,
                  {.max_in_flight = 5,
                   .on_overflow = courier::overflow_policy::drop_oldest});

  auto service = sys.spawn<order_service>(r, orders);
  // Wait for the service to finish, then for every subscriber to drain.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto wait = [&](auto done) {
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "pubsub: timed out\n");
        std::exit(1);
      }
      std::this_thread::sleep_for(10ms);
    }
  };
  wait([&] { return service.ask<bool>(report{}).get(); });
  courier::router_stats st;
  wait([&] {
    st = r.stats();
    for (const auto& s : st.subscriptions) {
      if (s.in_flight != 0) {
        return false;
      }
    }
    return true;
  });

  std::printf("analytics: %s\n",
              stats.ask<std::string>(report{}).get().c_str());
  std::printf("router:    %llu published, %llu delivered, %llu dropped\n",
              static_cast<unsigned long long>(st.published),
              static_cast<unsigned long long>(st.delivered),
              static_cast<unsigned long long>(st.dropped));
  for (const auto& s : st.subjects) {
    std::printf(
        "  subject %-16s published %3llu  routed %3llu  dropped %3llu\n",
        s.subject.c_str(), static_cast<unsigned long long>(s.published),
        static_cast<unsigned long long>(s.routed),
        static_cast<unsigned long long>(s.dropped));
  }
  for (const auto& s : st.subscriptions) {
    std::printf("  subscription %llu %-15s delivered %3llu  dropped %3llu%s\n",
                static_cast<unsigned long long>(s.id), s.pattern.c_str(),
                static_cast<unsigned long long>(s.delivered),
                static_cast<unsigned long long>(s.dropped),
                s.id == archive.id() ? "  (the slow archiver)" : "");
  }
  return 0;
}
