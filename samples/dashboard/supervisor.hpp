#pragma once

// Supervision (pattern: let it crash, then restart). A handler that throws
// stops its actor, and the system tells its on_failure hook. A supervisor
// spawns its child through a factory, hears of the child's failure from
// that hook (failure_hook), and spawns a fresh child after a short delay,
// at most max_restarts times within a window; past that it gives up, like
// Akka's BackoffSupervisor or an Erlang one_for_one supervisor. Its
// counters are plain atomics, so /metrics reads them at any time.

#include "courier/courier.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dashboard {

// Told to every watching supervisor when an actor of the system fails.
struct child_failed {
  courier::actor_ref child;
  std::string what;
};

// Passes the system's on_failure hook on to the supervisors. Thread
// safety: any thread (the hook runs on loop threads).
class failure_hook {
 public:
  void watch(courier::actor_ref supervisor) {
    std::lock_guard<std::mutex> lock(mutex_);
    supervisors_.push_back(supervisor);
  }
  void operator()(const courier::actor_failure& f) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const courier::actor_ref& s : supervisors_) {
      s.tell(child_failed{f.target, f.what});
    }
  }

 private:
  mutable std::mutex mutex_;
  std::vector<courier::actor_ref> supervisors_;
};

struct supervision_counters {
  std::atomic<std::uint64_t> failures{0};  // of the child
  std::atomic<std::uint64_t> restarts{0};
  std::atomic<bool> gave_up{false};
};

struct supervisor_options {
  std::string name;  // the child's name in logs and /metrics
  std::size_t max_restarts = 10;
  std::chrono::milliseconds window{std::chrono::minutes(1)};
  std::chrono::milliseconds delay{std::chrono::milliseconds(500)};
};

// Keeps one child alive. It also answers get_poll_stats for its child,
// so that /metrics asks one address across restarts.
class supervisor : public courier::actor {
 public:
  using factory = std::function<courier::actor_ref(courier::system&)>;

  supervisor(courier::system& sys, std::shared_ptr<failure_hook> hook,
             factory make, supervisor_options opts,
             std::shared_ptr<supervision_counters> counters)
      : sys_(sys),
        hook_(std::move(hook)),
        make_(std::move(make)),
        opts_(std::move(opts)),
        counters_(std::move(counters)) {}

 protected:
  void on_start() override {
    hook_->watch(self());  // before the child exists: no failure is missed
    child_ = make_(sys_);
  }

  courier::behavior behavior() override {
    return {
        [this](const child_failed& f) {
          if (!child_.valid() || f.child != child_) {
            return;
          }
          counters_->failures.fetch_add(1, std::memory_order_relaxed);
          child_ = {};
          auto now = std::chrono::steady_clock::now();
          while (!restarts_.empty() && now - restarts_.front() > opts_.window) {
            restarts_.pop_front();
          }
          if (restarts_.size() >= opts_.max_restarts) {
            counters_->gave_up = true;
            std::fprintf(stderr,
                         "dashboard: %s failed after %zu restarts, giving "
                         "up: %s\n",
                         opts_.name.c_str(), restarts_.size(), f.what.c_str());
            return;
          }
          restarts_.push_back(now);
          after("restart", opts_.delay, [this] {
            child_ = make_(sys_);
            counters_->restarts.fetch_add(1, std::memory_order_relaxed);
            std::fprintf(stderr, "dashboard: restarted %s\n",
                         opts_.name.c_str());
          });
        },
        [this](courier::get_poll_stats g) {
          auto answer = make_response_promise<courier::poll_stats>();
          if (!child_.valid()) {
            answer.fail(courier::errc::target_dead, opts_.name + " restarts");
            return answer;
          }
          ask<courier::poll_stats>(child_, g).then(
              [answer](const courier::poll_stats& s) mutable {
                answer.deliver(s);
              },
              [answer](const courier::ask_error& e) mutable {
                answer.fail(e.value(), e.what());
              });
          return answer;
        },
    };
  }

  void on_stop() override {
    if (child_.valid()) {
      sys_.stop(child_);
    }
  }

 private:
  courier::system& sys_;
  std::shared_ptr<failure_hook> hook_;
  factory make_;
  supervisor_options opts_;
  std::shared_ptr<supervision_counters> counters_;
  courier::actor_ref child_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
};

// The /metrics families of supervised children (the writer escapes the
// actor names).
inline void supervision_metrics(
    courier::prometheus_writer& w,
    const std::vector<
        std::pair<std::string, std::shared_ptr<supervision_counters>>>& all) {
  auto family = [&](const char* name, courier::metric_type type,
                    const char* help, auto value) {
    w.family(name, type, help);
    for (const auto& [child, c] : all) {
      w.sample(name, {{"actor", child}}, value(*c));
    }
  };
  family("dashboard_actor_failures_total", courier::metric_type::counter,
         "Failures of a supervised actor.", [](const supervision_counters& c) {
           return c.failures.load(std::memory_order_relaxed);
         });
  family("dashboard_actor_restarts_total", courier::metric_type::counter,
         "Restarts of a supervised actor.", [](const supervision_counters& c) {
           return c.restarts.load(std::memory_order_relaxed);
         });
  family(
      "dashboard_actor_given_up", courier::metric_type::gauge,
      "1 when its supervisor gave up restarting the actor.",
      [](const supervision_counters& c) { return c.gave_up.load() ? 1 : 0; });
}

}  // namespace dashboard
