#pragma once

// Inline definitions of the mailbox's hot operations, for lib/ only.

#include "courier/detail/mailbox.hpp"

#include <new>
#include <utility>

namespace courier::detail {

struct mailbox::block {
  static constexpr std::uint32_t capacity = 8;

  envelope* at(std::uint32_t i) noexcept {
    return std::launder(reinterpret_cast<envelope*>(storage) + i);
  }

  block* next = nullptr;
  alignas(envelope) unsigned char storage[capacity * sizeof(envelope)];
};

inline void mailbox::push(envelope&& e) {
  if (tail_ == nullptr || tail_pos_ == block::capacity) {
    append_block();
  }
  ::new (static_cast<void*>(tail_->at(tail_pos_))) envelope(std::move(e));
  ++tail_pos_;
  ++size_;
}

inline envelope& mailbox::front() noexcept {
  return *head_->at(head_pos_);
}

inline void mailbox::pop_front() noexcept {
  head_->at(head_pos_)->~envelope();
  ++head_pos_;
  --size_;
  if (size_ == 0) {
    // Keep the (now only) block for the next message; shrink() returns it.
    head_pos_ = 0;
    tail_pos_ = 0;
    if (head_ != tail_) {
      drop_head_block();
    }
  } else if (head_pos_ == block::capacity) {
    drop_head_block();
  }
}

}  // namespace courier::detail
