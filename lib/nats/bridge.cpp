#include "courier/actor.hpp"
#include "courier/json.hpp"
#include "courier/nats.hpp"
#include "courier/subject.hpp"
#include "courier/system.hpp"

#include "loop.hpp"

#include <nats/adapters/libuv.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>
#include <random>
#include <sstream>
#include <unordered_map>

namespace courier::nats {

namespace detail {

// Shared by the handle, the actor and cnats' callbacks (which run on
// cnats threads): atomics and a mutex only.
struct bridge_shared {
  router local;
  bridge_config cfg;
  std::atomic<bridge_state> state{bridge_state::connecting};
  std::atomic<std::uint64_t> exported{0};
  std::atomic<std::uint64_t> imported{0};
  std::atomic<std::uint64_t> dropped_export{0};
  std::atomic<std::uint64_t> echo_dropped{0};
  std::atomic<std::uint64_t> slow_consumer{0};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> connect_attempts{0};
  std::atomic<std::uint64_t> next_seq{1};

  std::mutex mutex;
  std::string last_error;
  // Records this bridge imported and may see again through its exports;
  // holding them keeps their addresses unique.
  std::unordered_map<const courier::detail::event_record*,
                     courier::detail::event_ptr>
      imported_records;
  // Its size, read without the lock: exports skip the lookup when 0.
  std::atomic<std::size_t> remembered{0};

  void error(std::string e) {
    std::lock_guard lock(mutex);
    last_error = std::move(e);
  }
  bool exported_locally(const std::string& subject) const {
    return std::any_of(
        cfg.exports.begin(), cfg.exports.end(),
        [&](const std::string& p) { return subject_matches(p, subject); });
  }
};

}  // namespace detail

namespace {

constexpr std::size_t max_remembered_imports = 1 << 16;

// cnats may call back after natsConnection_Destroy and while a
// subscription is torn down (its own threads), so each callback closure
// owns a reference to the shared state: released by the closed callback
// (the connection's last) and by a subscription's on-complete callback.
using keepalive = std::shared_ptr<detail::bridge_shared>;

detail::bridge_shared& shared_of(void* closure) {
  return **static_cast<keepalive*>(closure);
}

void on_complete(void* closure) {
  delete static_cast<keepalive*>(closure);
}

std::string random_origin() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> d;
  std::ostringstream out;
  out << std::hex << d(rd);
  return out.str();
}

std::string header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) == NATS_OK && v != nullptr) {
    return v;
  }
  return {};
}

void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* s = &shared_of(closure);
  std::string subject = natsMsg_GetSubject(m);
  bool echo = header(m, "Courier-Origin") == s->cfg.origin;
  std::string type = header(m, "Content-Type");
  std::string body(natsMsg_GetData(m),
                   static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  natsMsg_Destroy(m);
  if (echo) {
    s->echo_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (subject.compare(0, s->cfg.prefix.size(), s->cfg.prefix) != 0) {
    return;
  }
  subject.erase(0, s->cfg.prefix.size());
  if (!valid_subject(subject)) {
    return;
  }
  std::shared_ptr<courier::detail::event_record> rec;
  if (type == "application/json") {
    auto j = parse_json(body, default_max_json_depth);
    if (j.is_discarded()) {
      s->error("import: invalid JSON (or nested deeper than " +
               std::to_string(default_max_json_depth) + ") on " + subject);
      return;
    }
    rec = courier::detail::make_event(subject, std::move(j));
  } else {
    rec = courier::detail::make_event(subject, std::move(body));
  }
  if (s->exported_locally(subject)) {
    std::lock_guard lock(s->mutex);
    if (s->imported_records.size() >= max_remembered_imports) {
      s->imported_records.clear();
    }
    s->imported_records.emplace(rec.get(), rec);
    s->remembered.store(s->imported_records.size(), std::memory_order_release);
  }
  s->imported.fetch_add(1, std::memory_order_relaxed);
  s->local.ref().tell(courier::detail::publish_message{std::move(rec)});
}

void on_disconnected(natsConnection*, void* closure) {
  auto* s = &shared_of(closure);
  auto expected = bridge_state::connected;
  s->state.compare_exchange_strong(expected, bridge_state::reconnecting);
}

void on_reconnected(natsConnection*, void* closure) {
  auto* s = &shared_of(closure);
  s->reconnects.fetch_add(1, std::memory_order_relaxed);
  s->state.store(bridge_state::connected);
}

void on_closed(natsConnection*, void* closure) {
  shared_of(closure).state.store(bridge_state::closed);
  delete static_cast<keepalive*>(closure);
}

void on_error(natsConnection*, natsSubscription*, natsStatus err,
              void* closure) {
  auto* s = &shared_of(closure);
  if (err == NATS_SLOW_CONSUMER) {
    s->slow_consumer.fetch_add(1, std::memory_order_relaxed);
  }
  s->error(natsStatus_GetText(err));
}

struct stop_bridge {};
struct connect_now {};

class bridge_actor final : public actor {
 public:
  explicit bridge_actor(std::shared_ptr<detail::bridge_shared> s)
      : s_(std::move(s)), backoff_(s_->cfg.retry_min) {}

 protected:
  courier::behavior behavior() override {
    return {
        [this](const event_ref& e) { export_event(e); },
        [this](connect_now) { try_connect(); },
        [this](stop_bridge) { stop(); },
    };
  }

  void on_start() override {
    for (const auto& p : s_->cfg.exports) {
      subs_.push_back(s_->local.subscribe<any_payload>(p, self()));
    }
    try_connect();
  }

  void on_stop() override {
    for (auto& sub : subs_) {
      sub.unsubscribe();
    }
    close();
    // Still here only when no connection was ever made: no cnats object
    // refers to it any more (a failed connect calls no callback).
    delete conn_hold_;
    conn_hold_ = nullptr;
    s_->state.store(bridge_state::closed);
  }

 private:
  void try_connect() {
    s_->connect_attempts.fetch_add(1, std::memory_order_relaxed);
    natsStatus st = connect();
    if (st == NATS_OK) {
      s_->state.store(bridge_state::connected);
      backoff_ = s_->cfg.retry_min;
      return;
    }
    s_->error(std::string("connect: ") + natsStatus_GetText(st));
    close();
    after("connect", backoff_, connect_now{});
    backoff_ = std::min(backoff_ * 2, s_->cfg.retry_max);
  }

  natsStatus connect() {
    static std::once_flag once;
    std::call_once(once, [] { natsLibuv_Init(); });
    uv_loop_t* uv = courier::detail::loop::current()->uv();
    natsLibuv_SetThreadLocalLoop(uv);
    const auto& c = s_->cfg;
    std::vector<const char*> urls;
    for (const auto& u : c.urls) {
      urls.push_back(u.c_str());
    }
    natsStatus st = natsOptions_Create(&opts_);
    auto step = [&st](natsStatus r) {
      if (st == NATS_OK) {
        st = r;
      }
    };
    if (st != NATS_OK) {
      return st;
    }
    step(natsOptions_SetServers(opts_, urls.data(),
                                static_cast<int>(urls.size())));
    step(natsOptions_SetEventLoop(opts_, uv, natsLibuv_Attach, natsLibuv_Read,
                                  natsLibuv_Write, natsLibuv_Detach));
    step(natsOptions_SetTimeout(opts_, c.connect_timeout.count()));
    step(natsOptions_SetMaxReconnect(opts_, c.max_reconnect));
    step(natsOptions_SetReconnectWait(opts_, c.reconnect_wait.count()));
    step(natsOptions_SetReconnectBufSize(opts_, c.reconnect_buffer_bytes));
    // A failed connect calls no callback: its hold serves the next try,
    // and on_stop() frees it if none ever succeeded.
    if (conn_hold_ == nullptr) {
      conn_hold_ = new keepalive(s_);
    }
    step(natsOptions_SetDisconnectedCB(opts_, on_disconnected, conn_hold_));
    step(natsOptions_SetReconnectedCB(opts_, on_reconnected, conn_hold_));
    step(natsOptions_SetClosedCB(opts_, on_closed, conn_hold_));
    step(natsOptions_SetErrorHandler(opts_, on_error, conn_hold_));
    if (st != NATS_OK) {
      return st;
    }
    st = natsConnection_Connect(&nc_, opts_);
    if (st == NATS_OK) {
      conn_hold_ = nullptr;  // owned by on_closed from now on
    }
    for (const auto& p : c.imports) {
      if (st != NATS_OK) {
        break;
      }
      natsSubscription* sub = nullptr;
      auto* hold = new keepalive(s_);
      st = natsConnection_Subscribe(&sub, nc_, (c.prefix + p).c_str(),
                                    on_message, hold);
      if (st == NATS_OK) {
        st = natsSubscription_SetOnCompleteCB(sub, on_complete, hold);
      } else {
        delete hold;
      }
      // Without its on-complete callback, `hold` is leaked on purpose.
      nats_subs_.push_back(sub);
    }
    return st;
  }

  void close() {
    for (natsSubscription* sub : nats_subs_) {
      natsSubscription_Destroy(sub);
    }
    nats_subs_.clear();
    if (nc_ != nullptr) {
      natsConnection_Close(nc_);
      natsConnection_Destroy(nc_);
      nc_ = nullptr;
    }
    natsOptions_Destroy(opts_);
    opts_ = nullptr;
  }

  std::optional<encoded_payload> encode(const event_ref& e) const {
    if (const auto* j = e.get_if<nlohmann::json>()) {
      // Bounded: dump() recurses per level. Invalid UTF-8 is replaced,
      // never thrown on.
      if (!json_depth_within(*j, default_max_json_depth)) {
        return std::nullopt;
      }
      return encoded_payload{
          "application/json",
          j->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    }
    if (const auto* str = e.get_if<std::string>()) {
      return encoded_payload{"text/plain", *str};
    }
    if (s_->cfg.encode) {
      return s_->cfg.encode(e);
    }
    return std::nullopt;
  }

  void export_event(const event_ref& e) {
    if (s_->remembered.load(std::memory_order_acquire) != 0) {
      std::lock_guard lock(s_->mutex);
      bool own = s_->imported_records.erase(e.record().get()) > 0;
      s_->remembered.store(s_->imported_records.size(),
                           std::memory_order_release);
      if (own) {
        return;  // imported here: never exported again
      }
    }
    auto payload = encode(e);
    if (!payload || nc_ == nullptr ||
        s_->state.load() == bridge_state::closed) {
      s_->dropped_export.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    natsMsg* m = nullptr;
    std::string subject = s_->cfg.prefix + e.subject();
    std::string seq = std::to_string(s_->next_seq.fetch_add(1));
    natsStatus st =
        natsMsg_Create(&m, subject.c_str(), nullptr, payload->body.data(),
                       static_cast<int>(payload->body.size()));
    if (st == NATS_OK) {
      st = natsMsgHeader_Set(m, "Courier-Origin", s_->cfg.origin.c_str());
    }
    if (st == NATS_OK) {
      st = natsMsgHeader_Set(m, "Courier-Seq", seq.c_str());
    }
    if (st == NATS_OK) {
      st = natsMsgHeader_Set(m, "Content-Type", payload->content_type.c_str());
    }
    if (st == NATS_OK) {
      st = natsConnection_PublishMsg(nc_, m);
    }
    natsMsg_Destroy(m);
    if (st == NATS_OK) {
      s_->exported.fetch_add(1, std::memory_order_relaxed);
    } else {
      s_->dropped_export.fetch_add(1, std::memory_order_relaxed);
      s_->error(std::string("publish: ") + natsStatus_GetText(st));
    }
  }

  std::shared_ptr<detail::bridge_shared> s_;
  std::chrono::milliseconds backoff_;
  std::vector<subscription> subs_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  keepalive* conn_hold_ = nullptr;
  std::vector<natsSubscription*> nats_subs_;
};

}  // namespace

const char* to_string(bridge_state s) noexcept {
  switch (s) {
    case bridge_state::connecting:
      return "connecting";
    case bridge_state::connected:
      return "connected";
    case bridge_state::reconnecting:
      return "reconnecting";
    case bridge_state::closed:
      return "closed";
  }
  return "unknown";
}

bridge bridge::start(system& sys, router r, bridge_config cfg) {
  for (const auto& p : cfg.exports) {
    check_pattern(p);
  }
  for (const auto& p : cfg.imports) {
    check_pattern(p);
  }
  if (cfg.origin.empty()) {
    cfg.origin = random_origin();
  }
  auto s = std::make_shared<detail::bridge_shared>();
  s->local = std::move(r);
  s->cfg = std::move(cfg);
  actor_ref a = sys.spawn<bridge_actor>(spawn_options{.loop = s->cfg.loop}, s);
  return bridge(std::move(s), a);
}

bridge_stats bridge::stats() const {
  const auto& s = *shared_;
  bridge_stats out;
  out.state = s.state.load();
  out.exported = s.exported.load();
  out.imported = s.imported.load();
  out.dropped_export = s.dropped_export.load();
  out.echo_dropped = s.echo_dropped.load();
  out.slow_consumer = s.slow_consumer.load();
  out.reconnects = s.reconnects.load();
  out.connect_attempts = s.connect_attempts.load();
  std::lock_guard lock(shared_->mutex);
  out.last_error = s.last_error;
  return out;
}

void bridge::metrics(prometheus_writer& w) const {
  using enum metric_type;
  bridge_stats st = stats();
  w.metric("courier_nats_connected", gauge, "1 while connected to NATS.", {},
           st.state == bridge_state::connected ? 1 : 0);
  w.metric("courier_nats_exported_total", counter,
           "Events handed to the NATS client (sent or buffered).", {},
           st.exported);
  w.metric("courier_nats_imported_total", counter,
           "Messages published into the local router.", {}, st.imported);
  w.metric("courier_nats_dropped_export_total", counter,
           "Exports refused: not connected, or the buffer full.", {},
           st.dropped_export);
  w.metric("courier_nats_echo_dropped_total", counter,
           "Own messages seen on import.", {}, st.echo_dropped);
  w.metric("courier_nats_slow_consumer_total", counter,
           "Slow consumer errors of the NATS client.", {}, st.slow_consumer);
  w.metric("courier_nats_reconnects_total", counter, "Reconnects.", {},
           st.reconnects);
  w.metric("courier_nats_connect_attempts_total", counter,
           "First-connect attempts.", {}, st.connect_attempts);
}

std::string bridge::metrics_text() const {
  prometheus_writer w;
  metrics(w);
  return w.str();
}

const std::string& bridge::origin() const noexcept {
  return shared_->cfg.origin;
}

void bridge::stop() const {
  actor_.tell(stop_bridge{});
}

}  // namespace courier::nats
