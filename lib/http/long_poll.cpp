// The long-poll loop: an actor that asks the HTTP client for one poll at a
// time and re-polls at once with the cursor of the last response.

#include "courier/actor.hpp"
#include "courier/http_client.hpp"
#include "courier/json.hpp"
#include "courier/system.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

namespace courier::http {

namespace impl {

namespace {

// Percent-encodes a query value (the cursor, made of [0-9a-z-] normally).
std::string encode_query(std::string_view v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

struct poll_now {};

}  // namespace

class long_poll_actor final : public actor {
 public:
  long_poll_actor(client c, long_poll_config cfg)
      : client_(std::move(c)),
        cfg_(std::move(cfg)),
        cursor_(cfg_.since),
        backoff_(cfg_.backoff) {}

 protected:
  courier::behavior behavior() override {
    return {[this](poll_now) {
      poll();
    }};
  }
  void on_start() override { poll(); }

 private:
  void poll() {
    client_request req;
    req.url = cfg_.url + "?timeout=" + std::to_string(cfg_.hold.count()) +
              "&max=" + std::to_string(cfg_.max);
    if (!cursor_.empty()) {
      req.url += "&since=" + encode_query(cursor_);
    }
    req.timeout = cfg_.hold + std::chrono::seconds(10);
    ask<client_result>(client_.ref(), std::move(req),
                       {.timeout = req.timeout + std::chrono::seconds(2)})
        .then([this](client_result r) { handle(std::move(r)); },
              [this](const ask_error& e) { retry(e.what()); });
  }

  void handle(client_result r) {
    if (!r.response) {
      retry(r.message);
      return;
    }
    if (r.response->status / 100 != 2) {
      retry("HTTP " + std::to_string(r.response->status));
      return;
    }
    nlohmann::json body = parse_json(r.response->body);
    if (body.is_discarded() || !body.is_object() || !body.contains("events") ||
        !body["events"].is_array() || !body.contains("next")) {
      retry("the response is not a long-poll result");
      return;
    }
    std::string next = body["next"].is_string()
                           ? body["next"].get<std::string>()
                           : body["next"].dump();
    if (body.value("reset", false)) {
      cfg_.target.tell(long_poll_reset{next});
    }
    for (auto& e : body["events"]) {
      long_poll_event ev;
      if (e.contains("id")) {
        ev.id =
            e["id"].is_string() ? e["id"].get<std::string>() : e["id"].dump();
      }
      if (e.contains("subject") && e["subject"].is_string()) {
        ev.subject = e["subject"].get<std::string>();
      }
      if (e.contains("data")) {
        ev.data = std::move(e["data"]);
      }
      cfg_.target.tell(std::move(ev));
    }
    cursor_ = std::move(next);
    backoff_ = cfg_.backoff;
    self().tell(poll_now{});  // at once, with the new cursor
  }

  void retry(const std::string& /*why*/) {
    after("long_poll.retry", backoff_, [this] { poll(); });
    backoff_ = std::min(backoff_ * 2, cfg_.backoff_cap);
  }

  client client_;
  long_poll_config cfg_;
  std::string cursor_;
  std::chrono::milliseconds backoff_;
};

}  // namespace impl

long_poll_reader long_poll_reader::start(system& sys, client c,
                                         long_poll_config cfg) {
  spawn_options where;
  where.loop = cfg.loop;
  long_poll_reader r;
  r.ref_ =
      sys.spawn<impl::long_poll_actor>(where, std::move(c), std::move(cfg));
  return r;
}

}  // namespace courier::http
