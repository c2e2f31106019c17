// ask round trips: actor -> actor on one loop and across loops (the next
// request leaves when the reply arrives), and blocking from main.

#include "common.hpp"

namespace bench {

namespace {

struct ping {};
struct start {
  courier::actor_ref responder;
  std::uint64_t rounds;
};

class responder : public courier::actor {
 public:
  courier::behavior behavior() override {
    return {[this](ping) {
      return ++count_;
    }};
  }

 private:
  int count_ = 0;
};

class asker : public courier::actor {
 public:
  explicit asker(done_flag* done) : done_(done) {}

  courier::behavior behavior() override {
    return {[this](const start& s) {
      to_ = s.responder;
      left_ = s.rounds;
      next();
    }};
  }

 private:
  void next() {
    if (left_-- == 0) {
      done_->set();
      return;
    }
    ask<int>(to_, ping{})
        .then([this](int) { next(); },
              [this](const courier::ask_error&) { done_->set(); });
  }

  done_flag* done_;
  courier::actor_ref to_;
  std::uint64_t left_ = 0;
};

double run_actor_ask(std::uint64_t rounds, bool same_loop) {
  courier::system sys{courier::system_config{.loops = 2}};
  done_flag done;
  auto r = sys.spawn<responder>(courier::spawn_options{.loop = 0});
  auto at = static_cast<std::uint16_t>(same_loop ? 0 : 1);
  auto a = sys.spawn<asker>(courier::spawn_options{.loop = at}, &done);
  auto t0 = std::chrono::steady_clock::now();
  a.tell(start{r, rounds});
  done.wait();
  return seconds_since(t0) * 1e9 / static_cast<double>(rounds);
}

// Both actors spawned from main with default options, as a user would.
double run_default_ask(std::uint64_t rounds) {
  courier::system sys{courier::system_config{.loops = 2}};
  done_flag done;
  auto r = sys.spawn<responder>();
  auto a = sys.spawn<asker>(&done);
  auto t0 = std::chrono::steady_clock::now();
  a.tell(start{r, rounds});
  done.wait();
  return seconds_since(t0) * 1e9 / static_cast<double>(rounds);
}

double run_blocking_ask(std::uint64_t rounds) {
  courier::system sys{courier::system_config{.loops = 2}};
  auto r = sys.spawn<responder>(courier::spawn_options{.loop = 0});
  r.ask<int>(ping{}).get();
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < rounds; ++i) {
    r.ask<int>(ping{}).get();
  }
  return seconds_since(t0) * 1e9 / static_cast<double>(rounds);
}

}  // namespace

void add_ask(std::vector<workload>& ws, const options& o) {
  std::uint64_t n = scaled(o.scale, 1'000'000);
  std::uint64_t blocking = scaled(o.scale, 20'000);
  ws.push_back({"ask_default", "ns/rt", [n] {
                  return run_default_ask(n);
                }});
  ws.push_back({"ask_same_loop", "ns/rt", [n] {
                  return run_actor_ask(n, true);
                }});
  ws.push_back({"ask_cross_loop", "ns/rt", [n] {
                  return run_actor_ask(n, false);
                }});
  ws.push_back({"ask_blocking", "ns/rt", [blocking] {
                  return run_blocking_ask(blocking);
                }});
}

}  // namespace bench
