// The dashboard's request-body checks (POST /orders, POST /reports), for
// the fuzzers. samples/dashboard/main.cpp keeps them in an anonymous
// namespace, so this is a copy of order_error() and report_error(): keep
// the two in step. The types, item_error() and the JSON conversions come
// from the sample's own orders.hpp; bodies are parsed as the sample does,
// with courier::parse_json().
#pragma once

#include "dashboard/orders.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace courier::fuzz {

using json = nlohmann::json;

inline std::optional<std::string> order_error(const json& body) {
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
  if (const char* why =
          dashboard::item_error(body["item"].get<std::string>())) {
    return why;
  }
  if (!body.contains("quantity")) {
    return "\"quantity\" is missing";
  }
  const json& q = body["quantity"];
  if (!q.is_number_integer() || q.get<long>() < 1 || q.get<long>() > 1000) {
    return "\"quantity\" must be an integer from 1 to 1000";
  }
  return std::nullopt;
}

inline std::optional<std::string> report_error(const json& body) {
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

/// What POST /orders builds from a body that passed order_error().
inline dashboard::create_order to_create_order(const json& body) {
  return {body["item"].get<std::string>(), body["quantity"].get<int>()};
}

}  // namespace courier::fuzz
