// courier's benchmark driver: mailbox throughput, ask latency, spawn cost,
// a token ring and pub/sub fan-out, each run several times (see
// benchmarks/README.md).

#include "common.hpp"

int main(int argc, char** argv) {
  bench::options o = bench::parse(argc, argv);
  std::vector<bench::workload> ws;
  bench::add_burst(ws, o);
  bench::add_tell(ws, o);
  bench::add_ask(ws, o);
  bench::add_spawn(ws, o);
  bench::add_ring(ws, o);
  bench::add_pubsub(ws, o);
  return bench::run_all("courier", o, ws);
}
