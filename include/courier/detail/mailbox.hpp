#pragma once

#include "courier/detail/envelope.hpp"

#include <cstdint>

namespace courier::detail {

/// An actor's local FIFO: a ring buffer of envelopes, allocated on first
/// use and grown by doubling. Same-loop sends append here with plain memory
/// writes. Thread safety: the owning loop only.
class mailbox {
 public:
  mailbox() = default;
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;
  ~mailbox();

  bool empty() const noexcept { return size_ == 0; }
  std::uint32_t size() const noexcept { return size_; }
  std::uint32_t capacity() const noexcept { return cap_; }

  inline void push(envelope&& e);
  inline envelope& front() noexcept;
  inline void pop_front() noexcept;

  /// Frees the buffer when it is empty and larger than the initial size.
  void shrink() noexcept;

 private:
  void grow();

  envelope* buf_ = nullptr;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t cap_ = 0;
};

}  // namespace courier::detail
