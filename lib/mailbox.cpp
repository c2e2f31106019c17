#include "courier/detail/mailbox.hpp"

#include "mailbox_impl.hpp"

#include <cstdlib>
#include <new>

namespace courier::detail {

namespace {

constexpr std::uint32_t initial_capacity = 8;
constexpr std::uint32_t keep_capacity = 64;

envelope* allocate(std::uint32_t n) {
  return static_cast<envelope*>(::operator new (
      sizeof(envelope) * n, std::align_val_t{alignof(envelope)}));
}

void deallocate(envelope* p) {
  ::operator delete (p, std::align_val_t{alignof(envelope)});
}

}  // namespace

mailbox::~mailbox() {
  while (size_ > 0) {
    pop_front();
  }
  if (buf_ != nullptr) {
    deallocate(buf_);
  }
}

void mailbox::grow() {
  std::uint32_t cap = cap_ == 0 ? initial_capacity : cap_ * 2;
  envelope* next = allocate(cap);
  for (std::uint32_t i = 0; i < size_; ++i) {
    envelope& src = buf_[(head_ + i) & (cap_ - 1)];
    ::new (static_cast<void*>(&next[i])) envelope(std::move(src));
    src.~envelope();
  }
  if (buf_ != nullptr) {
    deallocate(buf_);
  }
  buf_ = next;
  head_ = 0;
  cap_ = cap;
}

void mailbox::shrink() noexcept {
  if (size_ == 0 && cap_ > keep_capacity) {
    deallocate(buf_);
    buf_ = nullptr;
    cap_ = 0;
    head_ = 0;
  }
}

}  // namespace courier::detail
