#pragma once

// The shared state of a courier::system: its loops, counters, hooks and
// the shutdown protocol.

#include "courier/system.hpp"

#include "loop.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace courier::detail {

class system_core {
 public:
  system_core(system_config cfg, uv_loop_t* external);
  system_core(const system_core&) = delete;
  system_core& operator=(const system_core&) = delete;
  ~system_core();

  std::uint16_t id() const noexcept { return id_; }
  const system_config& config() const noexcept { return cfg_; }
  std::size_t loop_count() const noexcept { return loops_.size(); }
  loop& loop_at(std::uint16_t i) noexcept { return *loops_[i]; }

  actor_ref spawn(std::unique_ptr<actor> a, const spawn_options& opts);
  /// The loop a spawn with `opts` places its actor on (docs/scheduling.md).
  std::uint16_t place(const spawn_options& opts);
  actor_ref make_ref(std::uint16_t loop, std::uint32_t slot,
                     std::uint32_t generation) const noexcept {
    return actor_ref(id_, loop, slot, generation);
  }
  static std::uint32_t slot_of(actor_ref r) noexcept { return r.slot_; }
  static std::uint32_t generation_of(actor_ref r) noexcept {
    return r.generation_;
  }
  static std::uint16_t system_of(actor_ref r) noexcept { return r.system_; }

  void shutdown();
  void request_shutdown() noexcept;
  void wait_for_shutdown();
  void wait_for_shutdown_request();
  void handle_signals();

  /// Called by each loop when all its actors are stopped.
  void loop_stopped() noexcept;
  /// Called by loop 0 once its signal handlers are installed.
  void signals_installed() noexcept;

  /// Counts (and reports) a message that reached no actor.
  void dead_letter(const envelope& e) noexcept;
  void unhandled(actor_ref target, type_id type) noexcept;
  void failure(actor_ref target, const char* what) noexcept;

  courier::metrics snapshot() const;

  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> stopped{0};
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> unhandled_count{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> ask_timeouts{0};
  std::atomic<std::uint64_t> late_replies{0};

  /// The extension object registered under `key`, made by `make` on first
  /// use (routers live here). Thread safety: any thread.
  std::shared_ptr<void> extension(
      const std::string& key,
      const std::function<std::shared_ptr<void>()>& make);

 private:
  system_config cfg_;
  std::uint16_t id_;
  bool external_;
  std::vector<std::unique_ptr<loop>> loops_;
  // Round-robin counters: spawns with spawn_options::spread, and the home
  // loops handed to threads that are not loops of this system.
  std::atomic<std::uint32_t> next_loop_{0};
  std::atomic<std::uint32_t> next_home_{0};
  // Tells this system from an earlier one at the same address.
  const std::uint64_t serial_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t loops_stopped_ = 0;
  std::mutex extensions_mutex_;
  std::unordered_map<std::string, std::shared_ptr<void>> extensions_;
  bool shutdown_requested_ = false;
  bool shut_down_ = false;
  bool signals_ready_ = false;
};

}  // namespace courier::detail
