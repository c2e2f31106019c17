// The HTTP edge under load, for benchmarks/http.sh (wrk): one loop serves
//   GET /plain   a function route answering "ok"
//   GET /ask     an ask to an actor whose reply (a struct with to_json)
//                becomes a JSON response through an nlohmann document
//   GET /ask-text  the same, with the actor rendering its JSON itself
//                (http::json_text)
// on the same loop as the edge (the route and its actor on one loop).
//   courier_http_bench [--port N] [--port-file PATH]   (SIGINT/SIGTERM stops)

#include "courier/courier.hpp"
#include "courier/http.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace http = courier::http;

namespace {

struct quote {
  int id = 0;
  double price = 0;
};
void to_json(nlohmann::json& j, const quote& q) {
  j = {{"id", q.id}, {"price", q.price}};
}
struct get_quote {
  int id;
};
// The same quote, rendered by the actor itself (http::json_text).
struct render_quote {
  int id;
};

class quotes : public courier::actor {
 protected:
  courier::behavior behavior() override {
    return {[](const get_quote& g) {
              return quote{g.id, 101.25};
            },
            [](const render_quote& g) {
              char buf[64];
              char* p = buf;
              auto put = [&p](std::string_view s) {
                std::memcpy(p, s.data(), s.size());
                p += s.size();
              };
              put(R"({"id":)");
              p = std::to_chars(p, buf + sizeof(buf), g.id).ptr;
              put(R"(,"price":)");
              p = std::to_chars(p, buf + sizeof(buf), 101.25).ptr;
              put("}");
              return http::json_text{std::string(buf, p)};
            }};
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  long spin_us = 50;  // the system's default
  std::string port_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (a == "--port-file") {
      port_file = argv[i + 1];
    } else if (a == "--spin") {
      spin_us = std::atol(argv[i + 1]);
    }
  }
  courier::system_config cfg{.loops = 2};
  cfg.spin = std::chrono::microseconds(spin_us);
  courier::system sys{cfg};
  sys.handle_signals();
  auto q = sys.spawn<quotes>(courier::spawn_options{.loop = 0});
  http::routes r;
  r.get("/plain",
        [](const http::request&) { return http::response::text(200, "ok"); });
  r.get("/ask", http::ask_route<quote>(
                    q, [](const http::request&) { return get_quote{7}; }));
  r.get("/ask-text",
        http::ask_route<http::json_text>(
            q, [](const http::request&) { return render_quote{7}; }));
  auto srv = http::server::start(
      sys, {.port = static_cast<std::uint16_t>(port), .loop = std::uint16_t{0}},
      std::move(r));
  if (!port_file.empty()) {
    std::ofstream(port_file) << srv.port() << "\n";
  }
  std::printf("listening on %u\n", srv.port());
  std::fflush(stdout);
  sys.wait_for_shutdown();
  return 0;
}
