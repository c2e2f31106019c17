#pragma once

#include "courier/detail/envelope.hpp"

#include <cstddef>
#include <cstdint>

namespace courier::detail {

/// An actor's local FIFO. Same-loop sends append here with plain memory
/// writes; the loop moves each message out when it handles it. Messages are
/// stored compactly, not as whole envelopes: a record keeps the type, the
/// kind and, only for requests, replies, events and timer ticks, the way
/// back, then the message's own bytes. A tell of one int64_t takes 24
/// bytes instead of an envelope's 96, so an unbounded burst touches a
/// quarter of the memory. Records fill 1 KiB blocks taken from a per-thread
/// pool, none while the actor is idle. Thread safety: the owning loop only.
class mailbox {
 public:
  mailbox() = default;
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;
  ~mailbox();

  bool empty() const noexcept { return size_ == 0; }
  std::uint32_t size() const noexcept { return size_; }

  /// Appends `e` (its target is not kept: it is the mailbox's owner).
  inline void push(envelope&& e);
  /// Moves the oldest message into `out`, which must be empty; its target
  /// is left unset. The mailbox must not be empty.
  inline void pop(envelope& out) noexcept;

  /// Returns the last block to the pool when the mailbox is empty.
  void shrink() noexcept;
  /// The blocks held now (for tests and metrics).
  std::size_t blocks() const noexcept;

  /// The bytes a record of `e` takes (a multiple of 8).
  static inline std::size_t record_size(const envelope& e) noexcept;

  struct block;

 private:
  void append_block();
  void drop_head_block() noexcept;

  block* head_ = nullptr;
  block* tail_ = nullptr;
  std::uint32_t head_off_ = 0;
  std::uint32_t tail_off_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace courier::detail
