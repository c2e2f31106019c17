// A ring of 1,000 actors passing one token for 10,000,000 hops: `ring`
// spawns them from main with default options, `ring_placed` puts every one
// on loop 0 by hand.

#include "common.hpp"

namespace bench {

namespace {

struct token {
  std::uint64_t left;
};
struct link {
  courier::actor_ref next;
};

class ring_member : public courier::actor {
 public:
  explicit ring_member(done_flag* done) : done_(done) {}

  courier::behavior behavior() override {
    return {
        [this](const link& l) { next_ = l.next; },
        [this](const token& t) {
          if (t.left == 0) {
            done_->set();
          } else {
            next_.tell(token{t.left - 1});
          }
        },
    };
  }

 private:
  done_flag* done_;
  courier::actor_ref next_;
};

double run_ring(std::uint64_t hops, std::size_t size, bool placed) {
  courier::system sys{courier::system_config{.loops = 2}};
  done_flag done;
  std::vector<courier::actor_ref> ring;
  for (std::size_t i = 0; i < size; ++i) {
    ring.push_back(placed ? sys.spawn<ring_member>(
                                courier::spawn_options{.loop = 0}, &done)
                          : sys.spawn<ring_member>(&done));
  }
  for (std::size_t i = 0; i < size; ++i) {
    ring[i].tell(link{ring[(i + 1) % size]});
  }
  for (auto& r : ring) {
    r.ask<void>(link{ring[(&r - ring.data() + 1) % size]}).get();
  }
  auto t0 = std::chrono::steady_clock::now();
  ring[0].tell(token{hops});
  done.wait();
  return static_cast<double>(hops) / seconds_since(t0);
}

}  // namespace

void add_ring(std::vector<workload>& ws, const options& o) {
  std::uint64_t hops = scaled(o.scale, 10'000'000);
  ws.push_back({"ring", "hops/s", [hops] {
                  return run_ring(hops, 1000, false);
                }});
  ws.push_back({"ring_placed", "hops/s", [hops] {
                  return run_ring(hops, 1000, true);
                }});
}

}  // namespace bench
