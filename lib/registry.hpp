#pragma once

// Maps a system id (carried in every actor_ref) to its live system_core,
// so that any thread can send to any ref. Threads that are not loops of the
// target system protect the core with a hazard pointer for the duration of
// one send; removing a system waits until no such send is in flight.

#include <cstdint>

namespace courier::detail {

class system_core;

namespace registry {

/// Registers `core`; returns its id (never 0, not reused until wrap-around).
std::uint16_t add(system_core* core);

/// Unregisters `core` and waits until no guard protects it any more.
void remove(std::uint16_t id, system_core* core) noexcept;

/// Protects the core with id `id` (if registered) while it lives.
class guard {
 public:
  explicit guard(std::uint16_t id) noexcept;
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;
  ~guard();

  /// The core, or null when no such system is registered.
  system_core* get() const noexcept { return core_; }

 private:
  void* record_;
  system_core* core_;
  system_core* previous_;
};

}  // namespace registry
}  // namespace courier::detail
