#pragma once

// The orders actor: the state behind the REST API (pattern: ask). Every
// change is published on the router (pattern: pub/sub) as JSON, so nobody
// has to ask it what happened: "orders.created" when an order is taken,
// "orders.shipped" when the fulfilment timer ships it a few seconds later.

#include "courier/courier.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dashboard {

using json = nlohmann::json;

inline const std::array<const char*, 5> items = {"widget", "gadget", "gizmo",
                                                 "sprocket", "doohickey"};

// Why `item` is not an item name, or null. An item names a subject token
// ("inventory.{item}"), so it is 1 to 64 letters, digits, '-' or '_':
// no '.', no space, no '*' or '>'.
inline const char* item_error(std::string_view item) noexcept {
  constexpr std::string_view allowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  if (item.empty() || item.size() > 64 ||
      item.find_first_not_of(allowed) != std::string_view::npos) {
    return "\"item\" must be 1 to 64 letters, digits, '-' or '_'";
  }
  return nullptr;
}

struct order {
  int id = 0;
  std::string item;
  int quantity = 0;
  std::string status;  // "created", then "shipped"
};
inline void to_json(json& j, const order& o) {
  j = {{"id", o.id},
       {"item", o.item},
       {"quantity", o.quantity},
       {"status", o.status}};
}
inline void from_json(const json& j, order& o) {
  o = {j.at("id").get<int>(), j.at("item").get<std::string>(),
       j.at("quantity").get<int>(), j.at("status").get<std::string>()};
}

// Orders and items of one kind of item (analytics, reports).
struct tally {
  long orders = 0;
  long quantity = 0;
};
inline void to_json(json& j, const tally& t) {
  j = {{"orders", t.orders}, {"quantity", t.quantity}};
}

// The messages the orders actor answers.
struct create_order {
  std::string item;
  int quantity = 0;
};
struct get_order {
  int id = 0;
};
struct list_orders {};

class orders : public courier::actor {
 public:
  explicit orders(courier::router r) : router_(std::move(r)) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const create_order& c) {
          order o{next_id_++, c.item, c.quantity, "created"};
          by_id_[o.id] = o;
          router_.publish("orders.created", json(o));
          // Fulfilment: a timer message ships the order 2 to 5 s later.
          after(std::chrono::milliseconds(2000 + rng_() % 3000), ship{o.id});
          return o;
        },
        [this](ship s) {
          auto it = by_id_.find(s.id);
          if (it != by_id_.end()) {
            it->second.status = "shipped";
            router_.publish("orders.shipped", json(it->second));
          }
        },
        [this](get_order g) -> std::optional<order> {
          auto it = by_id_.find(g.id);
          if (it == by_id_.end()) {
            return std::nullopt;
          }
          return it->second;
        },
        [this](list_orders) {
          std::vector<order> all;
          all.reserve(by_id_.size());
          for (const auto& [id, o] : by_id_) {
            all.push_back(o);
          }
          return all;
        },
    };
  }

 private:
  struct ship {
    int id = 0;
  };

  courier::router router_;
  std::map<int, order> by_id_;
  int next_id_ = 1;
  std::minstd_rand rng_{std::random_device{}()};
};

// The body of POST /orders; an error message names the field.
inline std::optional<std::string> order_error(const nlohmann::json& body) {
  if (body.is_discarded()) {
    return "the body is not valid JSON";
  }
  if (!body.is_object()) {
    return "the body must be a JSON object";
  }
  if (!body.contains("item")) {
    return "\"item\" is missing";
  }
  if (!body["item"].is_string() || body["item"].get<std::string>().empty()) {
    return "\"item\" must be a non-empty string";
  }
  if (const char* why = item_error(body["item"].get<std::string>())) {
    return why;
  }
  if (!body.contains("quantity")) {
    return "\"quantity\" is missing";
  }
  const nlohmann::json& q = body["quantity"];
  if (!q.is_number_integer() || q.get<long>() < 1 || q.get<long>() > 1000) {
    return "\"quantity\" must be an integer from 1 to 1000";
  }
  return std::nullopt;
}

// The body of POST /reports (optional): {"kind": "sales", "callback": URL}.
inline std::optional<std::string> report_error(const nlohmann::json& body) {
  if (body.is_discarded() || !body.is_object()) {
    return "the body must be a JSON object";
  }
  if (body.contains("kind") && body["kind"] != "sales") {
    return "\"kind\" must be \"sales\"";
  }
  if (body.contains("callback") &&
      (!body["callback"].is_string() ||
       !body["callback"].get<std::string>().starts_with("http://"))) {
    return "\"callback\" must be an http:// URL";
  }
  return std::nullopt;
}

}  // namespace dashboard
