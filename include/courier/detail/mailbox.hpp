#pragma once

#include "courier/detail/envelope.hpp"

#include <cstdint>

namespace courier::detail {

/// An actor's local FIFO: a chain of small blocks of envelopes taken from
/// a per-thread pool, none while the actor is idle. Same-loop sends append
/// here with plain memory writes; an envelope never moves while queued, so
/// the loop handles it in place. Thread safety: the owning loop only.
class mailbox {
 public:
  mailbox() = default;
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;
  ~mailbox();

  bool empty() const noexcept { return size_ == 0; }
  std::uint32_t size() const noexcept { return size_; }

  inline void push(envelope&& e);
  inline envelope& front() noexcept;
  inline void pop_front() noexcept;

  /// Returns the last block to the pool when the mailbox is empty.
  void shrink() noexcept;

  struct block;

 private:
  void append_block();
  void drop_head_block() noexcept;

  block* head_ = nullptr;
  block* tail_ = nullptr;
  std::uint32_t head_pos_ = 0;
  std::uint32_t tail_pos_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace courier::detail
