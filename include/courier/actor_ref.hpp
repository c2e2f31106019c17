#pragma once

#include "courier/fwd.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace courier {

/// Options of an ask: how long to wait for the answer.
struct ask_options {
  std::chrono::milliseconds timeout{5000};
};

/// The address of an actor: which system, which loop, which slot, which
/// incarnation of the slot. A small trivially copyable value: copy it,
/// store it, compare it, hash it, send it in messages. A ref to a stopped
/// actor never reaches a newer actor in the same slot; its messages go to
/// the dead-letter sink. A default-constructed ref is null.
/// Thread safety: any thread.
class actor_ref {
 public:
  actor_ref() = default;

  /// Sends `msg` and returns at once. Per-sender order is preserved.
  /// Thread safety: any thread.
  template <class Message>
  void tell(Message&& msg) const;

  /// Sends `msg` as a request; the result's get() blocks until the reply,
  /// an error, or the timeout. For use outside loops (main, other threads);
  /// inside an actor use actor::ask(...).then(...).
  /// Thread safety: any thread; get() fails on a loop thread.
  template <class R, class Message>
  [[nodiscard]] ask_result<R> ask(Message&& msg, ask_options opts = {}) const;

  /// True unless default-constructed.
  bool valid() const noexcept { return generation_ != 0; }

  /// The index of the loop the actor runs on.
  std::uint16_t loop() const noexcept { return loop_; }

  friend bool operator==(actor_ref, actor_ref) = default;

  /// A hash of all fields (used by std::hash<actor_ref>).
  std::size_t hash() const noexcept {
    std::uint64_t a = (std::uint64_t{slot_} << 32) | generation_;
    std::uint64_t b = (std::uint64_t{loop_} << 16) | system_;
    return std::hash<std::uint64_t>{}(a * 0x9E3779B97F4A7C15ull ^ b);
  }

 private:
  friend class detail::system_core;
  friend class detail::loop;

  actor_ref(std::uint16_t sys, std::uint16_t loop, std::uint32_t slot,
            std::uint32_t generation) noexcept
      : slot_(slot), generation_(generation), loop_(loop), system_(sys) {}

  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;
  std::uint16_t loop_ = 0;
  std::uint16_t system_ = 0;
};

}  // namespace courier

template <>
struct std::hash<courier::actor_ref> {
  std::size_t operator()(courier::actor_ref r) const noexcept {
    return r.hash();
  }
};
