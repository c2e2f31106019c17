#include "system_core.hpp"

#include "registry.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>

namespace courier::detail {

namespace {

std::size_t loop_count_for(const system_config& cfg, uv_loop_t* external) {
  if (external != nullptr) {
    return 1;
  }
  if (cfg.loops > 0) {
    return cfg.loops;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

std::atomic<std::uint64_t> next_serial{1};

// The home loop of this thread in the last few systems it spawned into
// (a thread that is not a loop of that system).
struct home_entry {
  const system_core* core = nullptr;
  std::uint64_t serial = 0;
  std::uint16_t loop = 0;
};
constexpr std::size_t home_entries = 4;
thread_local home_entry homes[home_entries];
thread_local std::size_t next_home_entry = 0;

}  // namespace

system_core::system_core(system_config cfg, uv_loop_t* external)
    : cfg_(std::move(cfg)),
      external_(external != nullptr),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {
  if (cfg_.throughput == 0) {
    cfg_.throughput = 1;
  }
  std::size_t n = loop_count_for(cfg_, external);
  if (n > 65535) {
    throw std::invalid_argument("courier: at most 65535 loops");
  }
  id_ = registry::add(this);
  loops_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    loops_.push_back(
        std::make_unique<loop>(*this, static_cast<std::uint16_t>(i), external));
  }
  if (!external_) {
    for (auto& l : loops_) {
      l->start_thread();
    }
  }
}

system_core::~system_core() {
  shutdown();
}

actor_ref system_core::spawn(std::unique_ptr<actor> a,
                             const spawn_options& opts) {
  auto n = static_cast<std::uint32_t>(loops_.size());
  if (n == 0) {
    throw std::logic_error("courier: spawn on a system that is shut down");
  }
  actor_ref ref = loops_[place(opts)]->add(std::move(a));
  spawned.fetch_add(1, std::memory_order_relaxed);
  return ref;
}

std::uint16_t system_core::place(const spawn_options& opts) {
  auto n = static_cast<std::uint32_t>(loops_.size());
  if (opts.next_to.valid() && system_of(opts.next_to) == id_ &&
      opts.next_to.loop() < n) {
    return opts.next_to.loop();
  }
  if (opts.loop.has_value()) {
    return static_cast<std::uint16_t>(*opts.loop % n);
  }
  if (opts.spread) {
    return static_cast<std::uint16_t>(
        next_loop_.fetch_add(1, std::memory_order_relaxed) % n);
  }
  // Next to the spawner: on one of this system's loops, that loop.
  if (loop* here = loop::current(); here != nullptr && &here->core() == this) {
    return here->index();
  }
  // Any other thread has a home loop in this system, handed out round-robin
  // on its first spawn: every actor it spawns starts there.
  for (const home_entry& h : homes) {
    if (h.core == this && h.serial == serial_) {
      return static_cast<std::uint16_t>(h.loop % n);
    }
  }
  auto home = static_cast<std::uint16_t>(
      next_home_.fetch_add(1, std::memory_order_relaxed) % n);
  homes[next_home_entry] = {this, serial_, home};
  next_home_entry = (next_home_entry + 1) % home_entries;
  return home;
}

void system_core::loop_stopped() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  ++loops_stopped_;
  cv_.notify_all();
}

void system_core::shutdown() {
  if (loop::current() != nullptr && &loop::current()->core() == this &&
      !external_) {
    throw std::logic_error("courier: system::shutdown() on one of its loops");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_) {
      return;
    }
    shut_down_ = true;
    shutdown_requested_ = true;
    cv_.notify_all();
  }
  // From here on no thread outside the loops can reach this system.
  registry::remove(id_, this);
  if (external_) {
    loops_[0]->shutdown_inline();
  } else {
    for (auto& l : loops_) {
      l->request_stop_actors();
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return loops_stopped_ == loops_.size(); });
    }
    // No actor is left anywhere, so no loop sends to another any more.
    for (auto& l : loops_) {
      l->request_close();
    }
    for (auto& l : loops_) {
      l->join();
    }
  }
  for (auto& l : loops_) {
    l->drain_after_close();
  }
  for (auto& l : loops_) {
    l->drop_tokens();
  }
  loops_.clear();
}

void system_core::request_shutdown() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!shutdown_requested_ && external_ && !loops_.empty()) {
    loops_[0]->request_uv_stop();
  }
  shutdown_requested_ = true;
  cv_.notify_all();
}

void system_core::wait_for_shutdown() {
  wait_for_shutdown_request();
  shutdown();
}

void system_core::wait_for_shutdown_request() {
  if (external_ && loop::current() == loops_[0].get()) {
    // The caller drives the loop: run it until a shutdown request stops it.
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (shutdown_requested_) {
          break;
        }
      }
      uv_run(loops_[0]->uv(), UV_RUN_DEFAULT);
    }
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return shutdown_requested_; });
  }
}

void system_core::handle_signals() {
  loop& first = *loops_.at(0);
  if (loop::current() == &first) {
    first.install_signals();
    return;
  }
  first.request_signals();
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return signals_ready_ || shut_down_; });
}

void system_core::signals_installed() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  signals_ready_ = true;
  cv_.notify_all();
}

void system_core::dead_letter(const envelope& e) noexcept {
  dead_letters.fetch_add(1, std::memory_order_relaxed);
  if (cfg_.on_dead_letter) {
    try {
      cfg_.on_dead_letter(courier::dead_letter{
          e.target, e.type() != nullptr ? e.type()->name : "(none)"});
    } catch (...) {
      // A throwing hook must not take the loop down.
    }
  }
}

void system_core::unhandled(actor_ref target, type_id type) noexcept {
  unhandled_count.fetch_add(1, std::memory_order_relaxed);
  if (cfg_.on_unhandled) {
    try {
      cfg_.on_unhandled(unhandled_message{target, type->name});
    } catch (...) {
    }
  }
}

void system_core::failure(actor_ref target, const char* what) noexcept {
  failures.fetch_add(1, std::memory_order_relaxed);
  if (cfg_.on_failure) {
    try {
      cfg_.on_failure(actor_failure{target, what});
    } catch (...) {
    }
  }
}

courier::metrics system_core::snapshot() const {
  courier::metrics m;
  m.actors_spawned = spawned.load(std::memory_order_relaxed);
  m.actors_stopped = stopped.load(std::memory_order_relaxed);
  m.dead_letters = dead_letters.load(std::memory_order_relaxed);
  m.unhandled = unhandled_count.load(std::memory_order_relaxed);
  m.failures = failures.load(std::memory_order_relaxed);
  m.ask_timeouts = ask_timeouts.load(std::memory_order_relaxed);
  m.late_replies = late_replies.load(std::memory_order_relaxed);
  for (const auto& l : loops_) {
    m.loops.push_back(l->snapshot());
  }
  return m;
}

std::shared_ptr<void> system_core::extension(
    const std::string& key,
    const std::function<std::shared_ptr<void>()>& make) {
  std::lock_guard<std::mutex> lock(extensions_mutex_);
  auto it = extensions_.find(key);
  if (it != extensions_.end()) {
    return it->second;
  }
  std::shared_ptr<void> made = make();
  extensions_.emplace(key, made);
  return made;
}

}  // namespace courier::detail
