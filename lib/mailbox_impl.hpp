#pragma once

// Inline definitions of the mailbox's hot operations, for lib/ only.

#include "courier/detail/mailbox.hpp"

#include <utility>

namespace courier::detail {

inline void mailbox::push(envelope&& e) {
  if (size_ == cap_) {
    grow();
  }
  std::uint32_t tail = (head_ + size_) & (cap_ - 1);
  ::new (static_cast<void*>(&buf_[tail])) envelope(std::move(e));
  ++size_;
}

inline envelope& mailbox::front() noexcept {
  return buf_[head_];
}

inline void mailbox::pop_front() noexcept {
  buf_[head_].~envelope();
  head_ = (head_ + 1) & (cap_ - 1);
  --size_;
}

}  // namespace courier::detail
