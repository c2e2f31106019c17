// The NATS bridge's overhead: events per second and latency from process
// A's router through NATS to process B's subscriber (two systems with a
// bridge each), beside raw cnats (one publishing connection, one
// subscribing connection) on the same nats-server, in the same run.
//   courier_nats_bench --url nats://127.0.0.1:PORT [--events N] [--bytes B]
// benchmarks/nats.sh starts the server and runs it.

#include "courier/courier.hpp"
#include "courier/nats.hpp"

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          clock_type::now().time_since_epoch())
          .count());
}

// What one side measured.
struct result {
  std::uint64_t delivered = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

struct recorder {
  std::mutex m;
  std::vector<std::uint32_t> lat_us;
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> last_ns{0};

  void add(std::uint64_t sent_ns) {
    std::uint64_t t = now_ns();
    {
      std::lock_guard<std::mutex> lock(m);
      lat_us.push_back(static_cast<std::uint32_t>((t - sent_ns) / 1000));
    }
    last_ns = t;
    ++delivered;
  }

  result finish(std::uint64_t start_ns) {
    result r;
    r.delivered = delivered;
    r.seconds = static_cast<double>(last_ns - start_ns) / 1e9;
    std::lock_guard<std::mutex> lock(m);
    if (!lat_us.empty()) {
      std::sort(lat_us.begin(), lat_us.end());
      r.p50_ms = lat_us[lat_us.size() / 2] / 1000.0;
      r.p99_ms = lat_us[lat_us.size() * 99 / 100] / 1000.0;
    }
    return r;
  }
};

bool wait_for(std::atomic<std::uint64_t>& n, std::uint64_t want,
              std::chrono::seconds limit) {
  auto end = clock_type::now() + limit;
  while (n.load() < want) {
    if (clock_type::now() > end) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::string payload(std::uint64_t sent_ns, std::size_t bytes) {
  std::string p = std::to_string(sent_ns);
  p.resize(std::max(bytes, p.size() + 1), ' ');
  return p;
}

result raw_nats(const std::string& url, int events, std::size_t bytes) {
  recorder rec;
  natsConnection* pub = nullptr;
  natsConnection* sub = nullptr;
  natsSubscription* s = nullptr;
  natsConnection_ConnectTo(&pub, url.c_str());
  natsConnection_ConnectTo(&sub, url.c_str());
  natsConnection_Subscribe(
      &s, sub, "raw.bench",
      [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
        static_cast<recorder*>(closure)->add(
            std::strtoull(natsMsg_GetData(msg), nullptr, 10));
        natsMsg_Destroy(msg);
      },
      &rec);
  natsSubscription_SetPendingLimits(s, -1, -1);
  natsConnection_Flush(sub);
  std::uint64_t start = now_ns();
  for (int i = 0; i < events; ++i) {
    std::string p = payload(now_ns(), bytes);
    natsConnection_Publish(pub, "raw.bench", p.data(),
                           static_cast<int>(p.size()));
  }
  natsConnection_Flush(pub);
  wait_for(rec.delivered, static_cast<std::uint64_t>(events),
           std::chrono::seconds(60));
  result r = rec.finish(start);
  natsSubscription_Destroy(s);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub);
  return r;
}

class sink : public courier::actor {
 public:
  explicit sink(recorder* r) : rec_(r) {}

 protected:
  courier::behavior behavior() override {
    return {[this](const courier::event<nlohmann::json>& e) {
      rec_->add(e.payload()["t"].get<std::uint64_t>());
    }};
  }

 private:
  recorder* rec_;
};

result bridged(const std::string& url, int events, std::size_t bytes,
               std::uint64_t& dropped) {
  recorder rec;
  courier::system a{courier::system_config{.loops = 1}};
  courier::system b{courier::system_config{.loops = 1}};
  courier::router ra = courier::router::of(a);
  courier::router rb = courier::router::of(b);
  courier::nats::bridge_config ca;
  ca.urls = {url};
  ca.exports = {"bench.>"};
  courier::nats::bridge_config cb;
  cb.urls = {url};
  cb.imports = {"bench.>"};
  auto ba = courier::nats::bridge::start(a, ra, ca);
  auto bb = courier::nats::bridge::start(b, rb, cb);
  rb.subscribe<nlohmann::json>("bench.>", b.spawn<sink>(&rec),
                               {.max_in_flight = 1u << 22});
  auto end = clock_type::now() + std::chrono::seconds(10);
  while ((ba.stats().state != courier::nats::bridge_state::connected ||
          bb.stats().state != courier::nats::bridge_state::connected) &&
         clock_type::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // SUB in
  std::string pad(bytes > 40 ? bytes - 40 : 1, 'x');
  std::uint64_t start = now_ns();
  for (int i = 0; i < events; ++i) {
    ra.publish("bench.e", nlohmann::json{{"t", now_ns()}, {"pad", pad}});
  }
  wait_for(rec.delivered, static_cast<std::uint64_t>(events),
           std::chrono::seconds(60));
  result r = rec.finish(start);
  courier::nats::bridge_stats st = ba.stats();
  dropped = st.dropped_export + bb.stats().slow_consumer;
  ba.stop();
  bb.stop();
  return r;
}

void print(const char* name, int events, const result& r) {
  std::printf(
      "%-22s %10llu/%d %12.0f %9.2f %9.2f\n", name,
      static_cast<unsigned long long>(r.delivered), events,
      r.seconds > 0 ? static_cast<double>(r.delivered) / r.seconds : 0.0,
      r.p50_ms, r.p99_ms);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = "nats://127.0.0.1:4222";
  int events = 100000;
  std::size_t bytes = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url") {
      url = argv[i + 1];
    } else if (a == "--events") {
      events = std::atoi(argv[i + 1]);
    } else if (a == "--bytes") {
      bytes = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    }
  }
  std::printf("%-22s %17s %12s %9s %9s\n", "path", "delivered", "events/s",
              "p50 ms", "p99 ms");
  result raw = raw_nats(url, events, bytes);
  print("raw cnats", events, raw);
  std::uint64_t dropped = 0;
  result br = bridged(url, events, bytes, dropped);
  print("router->bridge->router", events, br);
  std::printf("bridge dropped/slow-consumer: %llu; bridge/raw rate: %.2f\n",
              static_cast<unsigned long long>(dropped),
              raw.seconds > 0 && br.seconds > 0
                  ? (static_cast<double>(br.delivered) / br.seconds) /
                        (static_cast<double>(raw.delivered) / raw.seconds)
                  : 0.0);
  return 0;
}
