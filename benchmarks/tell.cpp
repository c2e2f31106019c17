// tell throughput: 1 -> 1 on one loop, 1 -> 1 across loops, 4 -> 1 across
// loops. Senders send batches of 1,000 and keep at most 50,000 messages
// unacknowledged; the receiver acks every 10,000 (same protocol as CAF's).

#include "common.hpp"

namespace bench {

namespace {

constexpr std::uint64_t batch = 1000;
constexpr std::uint64_t window = 50000;
constexpr std::uint64_t ack_every = 10000;

struct msg {
  std::uint64_t value;
};
struct go {};
struct ack {
  std::uint64_t received;
};
struct hello {
  courier::actor_ref sender;
};
struct sync {};

class receiver : public courier::actor {
 public:
  receiver(std::uint64_t total, done_flag* done) : total_(total), done_(done) {}

  courier::behavior behavior() override {
    return {
        [this](const hello& h) {
          senders_.push_back({h.sender, 0});
        },
        [](sync) {},
        [this](const msg& m) {
          auto& s = senders_[m.value];
          if (++s.count % ack_every == 0) {
            s.ref.tell(ack{s.count});
          }
          if (++received_ == total_) {
            done_->set();
          }
        },
    };
  }

 private:
  struct peer {
    courier::actor_ref ref;
    std::uint64_t count;
  };
  std::uint64_t total_;
  done_flag* done_;
  std::uint64_t received_ = 0;
  std::vector<peer> senders_;
};

class sender : public courier::actor {
 public:
  sender(courier::actor_ref to, std::uint64_t id, std::uint64_t n)
      : to_(to), id_(id), n_(n) {}

  courier::behavior behavior() override {
    return {
        [this](go) { send_batch(); },
        [this](const ack& a) {
          acked_ = a.received;
          if (blocked_) {
            blocked_ = false;
            send_batch();
          }
        },
    };
  }

 private:
  void send_batch() {
    std::uint64_t i = 0;
    while (i < batch && sent_ < n_ && sent_ - acked_ < window) {
      to_.tell(msg{id_});
      ++sent_;
      ++i;
    }
    if (sent_ == n_) {
      return;
    }
    if (sent_ - acked_ >= window) {
      blocked_ = true;
    } else {
      self().tell(go{});
    }
  }

  courier::actor_ref to_;
  std::uint64_t id_;
  std::uint64_t n_;
  std::uint64_t sent_ = 0;
  std::uint64_t acked_ = 0;
  bool blocked_ = false;
};

double run_tell(std::uint64_t n, int senders, bool same_loop) {
  courier::system sys{courier::system_config{.loops = 2}};
  done_flag done;
  auto r = sys.spawn<receiver>(courier::spawn_options{.loop = 0}, n, &done);
  std::vector<courier::actor_ref> ss;
  for (int i = 0; i < senders; ++i) {
    auto at = static_cast<std::uint16_t>(same_loop ? 0 : 1);
    ss.push_back(sys.spawn<sender>(courier::spawn_options{.loop = at}, r,
                                   static_cast<std::uint64_t>(i),
                                   n / static_cast<std::uint64_t>(senders)));
    r.tell(hello{ss.back()});
  }
  r.ask<void>(sync{}).get();  // all hellos handled
  auto t0 = std::chrono::steady_clock::now();
  for (auto& s : ss) {
    s.tell(go{});
  }
  done.wait();
  return static_cast<double>(n) / seconds_since(t0);
}

}  // namespace

void add_tell(std::vector<workload>& ws, const options& o) {
  std::uint64_t n = scaled(o.scale, 10'000'000);
  ws.push_back({"tell_same_loop", "msgs/s", [n] {
                  return run_tell(n, 1, true);
                }});
  ws.push_back({"tell_cross_loop", "msgs/s", [n] {
                  return run_tell(n, 1, false);
                }});
  ws.push_back({"tell_4to1", "msgs/s", [n] {
                  return run_tell(n - n % 4, 4, false);
                }});
}

}  // namespace bench
