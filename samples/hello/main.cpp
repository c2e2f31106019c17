// hello: the two ways to talk to an actor. A tell is one-way and returns at
// once; an ask expects an answer: blocking with .get() from main, and with
// .then() inside an actor, where nothing may block.

#include "courier/courier.hpp"

#include <cstdio>
#include <string>

struct add {
  int n;
};
struct total {};
struct report {
  courier::actor_ref counter;
};

// Keeps a running sum; `total` answers an ask with the sum.
class counter : public courier::actor {
 public:
  courier::behavior behavior() override {
    return {
        [this](const add& m) { sum_ += m.n; },
        [this](total) { return sum_; },
    };
  }

 private:
  int sum_ = 0;
};

// Asks the counter from inside an actor and answers its own asker later.
class reporter : public courier::actor {
 public:
  courier::behavior behavior() override {
    return {
        [this](const report& r) {
          auto promise = make_response_promise<std::string>();
          ask<int>(r.counter, total{})
              .then(
                  [promise](int sum) mutable {
                    promise.deliver("the counter says " + std::to_string(sum));
                  },
                  [promise](const courier::ask_error& e) mutable {
                    promise.deliver(std::string("ask failed: ") + e.what());
                  });
          return promise;
        },
    };
  }
};

int main() {
  courier::system sys;
  auto c = sys.spawn<counter>();
  auto r = sys.spawn<reporter>();

  for (int i = 1; i <= 10; ++i) {
    c.tell(add{i});  // async: returns at once
  }
  int sum = c.ask<int>(total{}).get();  // sync: blocks main until the answer
  std::printf("blocking ask from main: total = %d\n", sum);

  std::string line = r.ask<std::string>(report{c}).get();
  std::printf("ask with .then inside an actor: %s\n", line.c_str());

  std::printf("loops: %zu, messages handled: %llu\n", sys.loop_count(), [&] {
    unsigned long long n = 0;
    for (const auto& l : sys.metrics().loops) {
      n += l.messages;
    }
    return n;
  }());
  return sum == 55 ? 0 : 1;
}
