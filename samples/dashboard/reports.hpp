#pragma once

// Reports (pattern: async jobs). POST /reports is answered 202 at once
// with a job id; a pool of workers builds the report; every change of the
// job is published on "jobs.{id}", where the client follows it by long
// polling (or SSE); and when the request named a callback URL, the HTTP
// client POSTs the finished job there (a webhook).

#include "courier/courier.hpp"
#include "courier/http_client.hpp"
#include "courier/push.hpp"

#include "orders.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace dashboard {

// The messages the reports actor answers.
struct submit_report {
  std::string kind;
  std::string callback;  // a webhook URL, or ""
};
struct job_ticket {
  int job = 0;
  std::string since;  // a long-poll cursor from before the job's events
};
struct get_job {
  int id = 0;
};

// Between the reports actor and its workers.
struct build_report {
  int job = 0;
  courier::actor_ref reply_to;
};
struct job_update {
  int job = 0;
  std::string status;  // "running", "done" or "failed"
  int worker = 0;
  json result;
};

// The sales report: orders, items and shipped orders, per item too.
inline json summarize(const std::vector<order>& all) {
  std::map<std::string, tally> by_item;
  long quantity = 0;
  long shipped = 0;
  for (const order& o : all) {
    by_item[o.item].orders += 1;
    by_item[o.item].quantity += o.quantity;
    quantity += o.quantity;
    shipped += o.status == "shipped" ? 1 : 0;
  }
  std::string top;
  for (const auto& [item, t] : by_item) {
    if (top.empty() || t.quantity > by_item[top].quantity) {
      top = item;
    }
  }
  return {{"orders", all.size()},
          {"quantity", quantity},
          {"shipped", shipped},
          {"by_item", by_item},
          {"top_item", top}};
}

class report_worker : public courier::actor {
 public:
  report_worker(int number, courier::actor_ref orders)
      : number_(number), orders_(orders) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const build_report& b) {
      b.reply_to.tell(job_update{b.job, "running", number_, {}});
      auto started = std::chrono::steady_clock::now();
      // An ask that never blocks: the continuation runs later, here.
      ask<std::vector<order>>(orders_, list_orders{})
          .then(
              [this, b, started](const std::vector<order>& all) {
                // The work takes a while: a timer, never a sleep.
                after(
                    std::chrono::milliseconds(200 + rng_() % 300),
                    [this, b, started, result = summarize(all)]() mutable {
                      result["took_ms"] =
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
                      b.reply_to.tell(job_update{b.job, "done", number_,
                                                 std::move(result)});
                    });
              },
              [this, b](const courier::ask_error& e) {
                b.reply_to.tell(job_update{b.job, "failed", number_,
                                           json{{"error", e.what()}}});
              });
    }};
  }

 private:
  int number_;
  courier::actor_ref orders_;
  std::minstd_rand rng_{std::random_device{}()};
};

// Owns the job table and the worker pool. It is the only publisher of
// "jobs.*", so GET /reports/{id} never lags behind the events.
class reports : public courier::actor {
 public:
  reports(courier::router r, courier::actor_ref orders, courier::http::client c)
      : router_(std::move(r)), orders_(orders), client_(c) {}

 protected:
  void on_start() override {
    for (int i = 1; i <= 3; ++i) {
      workers_.push_back(spawn<report_worker>(i, orders_));
    }
  }

  courier::behavior behavior() override {
    return {
        [this](submit_report& s) {
          int id = next_id_++;
          jobs_[id] = {{"job", id}, {"kind", s.kind}, {"status", "queued"}};
          if (!s.callback.empty()) {
            jobs_[id]["callback"] = {{"url", s.callback}};
          }
          // Answer once the router's last sequence number is known: a long
          // poll from there sees every event of this job, however fast.
          auto answer = make_response_promise<job_ticket>();
          courier::fetch_request last{"jobs." + std::to_string(id), 0, 0};
          ask<courier::fetch_result>(router_.ref(), std::move(last))
              .then(
                  [this, answer, id](const courier::fetch_result& r) mutable {
                    answer.deliver(job_ticket{
                        id, courier::http::event_id(router_.epoch(), r.last)});
                    std::size_t next = static_cast<std::size_t>(id);
                    workers_[next % workers_.size()].tell(  // round-robin
                        build_report{id, self()});
                  },
                  [answer](const courier::ask_error& e) mutable {
                    answer.fail(e.value(), e.what());
                  });
          return answer;
        },
        [this](job_update& u) {
          json& job = jobs_[u.job];
          job["status"] = u.status;
          job["worker"] = u.worker;
          if (!u.result.is_null()) {
            job["result"] = std::move(u.result);
          }
          router_.publish("jobs." + std::to_string(u.job), job);
          if (u.status == "done" && job.contains("callback")) {
            call_webhook(u.job);
          }
        },
        [this](get_job g) -> std::optional<json> {
          auto it = jobs_.find(g.id);
          if (it == jobs_.end()) {
            return std::nullopt;
          }
          return it->second;
        },
    };
  }

 private:
  // POSTs the finished job to its callback URL (the HTTP client is an
  // actor too: ask it) and notes the outcome in the job.
  void call_webhook(int id) {
    courier::http::client_request req;
    req.method = "POST";
    req.url = jobs_[id]["callback"]["url"].get<std::string>();
    req.headers.set("Content-Type", "application/json");
    req.body = jobs_[id].dump();
    req.timeout = std::chrono::seconds(5);
    ask<courier::http::client_result>(client_.ref(), std::move(req),
                                      {.timeout = std::chrono::seconds(6)})
        .then(
            [this, id](const courier::http::client_result& r) {
              json& cb = jobs_[id]["callback"];
              if (r.response) {
                cb["status"] = r.response->status;
              } else {
                cb["error"] = std::string(courier::http::to_string(r.error)) +
                              ": " + r.message;
              }
            },
            [this, id](const courier::ask_error& e) {
              jobs_[id]["callback"]["error"] = e.what();
            });
  }

  courier::router router_;
  courier::actor_ref orders_;
  courier::http::client client_;
  std::vector<courier::actor_ref> workers_;
  std::map<int, json> jobs_;
  int next_id_ = 1;
};

}  // namespace dashboard
