// request_response: the seed's order service. An orders actor owns the
// orders; the HTTP edge maps each request onto an ask to it and the reply
// onto a response.
//
//   GET  /order?id=123      GET /orders/{id}      GET /orders
//   POST /orders            {"item": "widget", "quantity": 3}
//
//   request_response [--port N] [--port-file PATH]   (Ctrl-C to stop)

#include "courier/courier.hpp"
#include "courier/http.hpp"
#include "courier/json.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace http = courier::http;

namespace {

struct order {
  int id = 0;
  std::string item;
  int quantity = 0;
  std::string status;
};
void to_json(nlohmann::json& j, const order& o) {
  j = {{"id", o.id},
       {"item", o.item},
       {"quantity", o.quantity},
       {"status", o.status}};
}

struct create_order {
  std::string item;
  int quantity;
};
struct get_order {
  int id;
};
struct list_orders {};

class orders : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {
        [this](const create_order& c) {
          order o{next_id_++, c.item, c.quantity, "created"};
          by_id_[o.id] = o;
          return o;
        },
        [this](const get_order& g) -> std::optional<order> {
          auto it = by_id_.find(g.id);
          if (it == by_id_.end()) {
            return std::nullopt;
          }
          return it->second;
        },
        [this](list_orders) {
          std::vector<order> all;
          for (const auto& [id, o] : by_id_) {
            all.push_back(o);
          }
          return all;
        },
    };
  }

 private:
  std::map<int, order> by_id_;
  int next_id_ = 123;
};

// "123" -> 123; anything else -> nullopt.
std::optional<int> to_id(std::string_view s) {
  if (s.empty() || s.size() > 9 ||
      s.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::stoi(std::string(s));
}

http::handler find_route(courier::actor_ref o, bool from_query) {
  return [o, from_query](http::request& req, http::responder out) {
    std::optional<int> id = from_query
                                ? to_id(req.query_param("id").value_or(""))
                                : to_id(req.param("id"));
    if (!id) {
      out.send(http::response::error(400, "id must be a positive integer"));
      return;
    }
    http::ask<std::optional<order>>(o, get_order{*id})
        .then(
            [out, id](std::optional<order> found) {
              out.send(found ? http::response::json(200, *found)
                             : http::response::error(
                                   404, "no order " + std::to_string(*id)));
            },
            [out](const courier::ask_error& e) {
              out.send(http::error_response(e, false));
            });
  };
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  std::string port_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (a == "--port-file") {
      port_file = argv[i + 1];
    }
  }
  courier::system sys;
  sys.handle_signals();
  auto o = sys.spawn<orders>();

  http::routes r;
  r.get("/order", find_route(o, true));
  r.get("/orders/{id}", find_route(o, false));
  r.get("/orders", http::ask_route<std::vector<order>>(
                       o, [](const http::request&) { return list_orders{}; }));
  r.post("/orders", [o](http::request& req, http::responder out) {
    nlohmann::json body = courier::parse_json(req.body);
    if (body.is_discarded() || !body.is_object()) {
      out.send(http::response::error(400, "the body is not a JSON object"));
      return;
    }
    if (!body.contains("item") || !body["item"].is_string()) {
      out.send(http::response::error(400, "\"item\" (a string) is missing"));
      return;
    }
    if (!body.contains("quantity") || !body["quantity"].is_number_integer() ||
        body["quantity"].get<int>() < 1) {
      out.send(http::response::error(
          400, "\"quantity\" (an integer >= 1) is missing"));
      return;
    }
    http::ask<order>(o, create_order{body["item"].get<std::string>(),
                                     body["quantity"].get<int>()})
        .then(
            [out](order created) {
              http::response res = http::response::json(201, created);
              res.headers.set("Location",
                              "/orders/" + std::to_string(created.id));
              out.send(std::move(res));
            },
            [out](const courier::ask_error& e) {
              out.send(http::error_response(e, false));
            });
  });

  auto srv = http::server::start(
      sys, {.port = static_cast<std::uint16_t>(port)}, std::move(r));
  std::printf("orders service on http://127.0.0.1:%u  (Ctrl-C to stop)\n",
              srv.port());
  std::printf(
      "  curl -s -X POST localhost:%u/orders -d "
      "'{\"item\": \"widget\", \"quantity\": 3}'\n",
      srv.port());
  std::printf("  curl -s localhost:%u/order?id=123\n", srv.port());
  std::fflush(stdout);
  if (!port_file.empty()) {
    std::ofstream(port_file) << srv.port() << "\n";
  }
  // Ctrl-C: requests in flight finish before the system stops.
  sys.wait_for_shutdown_request();
  srv.stop();
  sys.shutdown();
  return 0;
}
