#include "courier/courier.hpp"

struct twice {
  int n;
};

class doubler : public courier::actor {
 public:
  courier::behavior behavior() override {
    return {[](twice m) {
      return 2 * m.n;
    }};
  }
};

int main() {
  courier::system sys{courier::system_config{.loops = 1}};
  auto d = sys.spawn<doubler>();
  return d.ask<int>(twice{21}).get() == 42 ? 0 : 1;
}
