// The dashboard's request-body checks (POST /orders, POST /reports), for
// the fuzzers: order_error(), report_error(), item_error(), the types and
// their JSON conversions all come from the sample's own orders.hpp; bodies
// are parsed as the sample does, with courier::parse_json().
#pragma once

#include "dashboard/orders.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace courier::fuzz {

using json = nlohmann::json;

using dashboard::order_error;
using dashboard::report_error;

/// What POST /orders builds from a body that passed order_error().
inline dashboard::create_order to_create_order(const json& body) {
  return {body["item"].get<std::string>(), body["quantity"].get<int>()};
}

}  // namespace courier::fuzz
