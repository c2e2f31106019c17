#pragma once

// Inventory (pattern: polling). The warehouse is a system we can only
// poll. It takes stock as orders come in (it subscribes to
// "orders.created") and restocks every 5 s. Now and then it is slow, so a
// poll times out and the poller backs off. The poller's sink publishes
// each change on "inventory.{item}".

#include "courier/courier.hpp"

#include "orders.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>

namespace dashboard {

using stock_levels = std::map<std::string, int>;
struct get_stock {};

class warehouse : public courier::actor {
 public:
  explicit warehouse(courier::router r) : router_(std::move(r)) {}

 protected:
  void on_start() override {
    using namespace std::chrono_literals;
    for (const char* item : items) {
      stock_[item] = 100;
    }
    router_.subscribe<json>("orders.created", self());
    every(5s, [this] {
      for (auto& [item, n] : stock_) {
        n += n < 60 ? 40 : 0;
      }
    });
  }
  courier::behavior behavior() override {
    using namespace std::chrono_literals;
    return {
        [this](const courier::event<json>& e) {
          auto o = e.payload().get<order>();
          stock_[o.item] = std::max(0, stock_[o.item] - o.quantity);
        },
        // Answers later through a response promise: after 20 ms, or after
        // 1.5 s one time in eight.
        [this](get_stock) {
          auto answer = make_response_promise<stock_levels>();
          after(
              rng_() % 8 == 0 ? 1500ms : 20ms,
              [answer, levels = stock_]() mutable { answer.deliver(levels); });
          return answer;
        },
    };
  }

 private:
  courier::router router_;
  stock_levels stock_;
  std::minstd_rand rng_{std::random_device{}()};
};

// The subject of an item's stock changes, or "" when the item cannot be
// one subject token (a publish on it would throw).
inline std::string inventory_subject(const std::string& item) {
  std::string subject = "inventory." + item;
  bool one_token = item.find('.') == std::string::npos;
  return one_token && courier::valid_subject(subject) ? subject : "";
}

// The poller's sink: publishes "inventory.{item}" for each level that
// changed since the last poll. It runs inside the poller, where a throw
// would stop it: an item that makes no valid subject is skipped and
// counted in `skipped`.
inline auto publish_stock_changes(
    courier::router r, std::shared_ptr<std::atomic<std::uint64_t>> skipped) {
  return [r = std::move(r), skipped = std::move(skipped),
          last = stock_levels{}](const stock_levels& now) mutable {
    for (const auto& [item, n] : now) {
      auto it = last.find(item);
      if (it != last.end() && it->second == n) {
        continue;
      }
      std::string subject = inventory_subject(item);
      if (subject.empty()) {
        skipped->fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      r.publish(subject, json{{"item", item}, {"stock", n}});
    }
    last = now;
  };
}

}  // namespace dashboard
