#include "courier/detail/mailbox.hpp"

#include "mailbox_impl.hpp"

#include <memory>
#include <vector>

namespace courier::detail {

namespace {

// Blocks freed on a thread are reused by the next mailbox on that thread
// (a loop's actors), up to a bound; the rest go back to the allocator.
class block_pool {
 public:
  block_pool() = default;
  block_pool(const block_pool&) = delete;
  block_pool& operator=(const block_pool&) = delete;
  ~block_pool() {
    for (auto* b : free_) {
      delete b;
    }
  }

  mailbox::block* get() {
    if (free_.empty()) {
      return new mailbox::block;
    }
    mailbox::block* b = free_.back();
    free_.pop_back();
    b->next = nullptr;
    b->used = 0;
    return b;
  }

  void put(mailbox::block* b) noexcept {
    if (free_.size() < max_free) {
      try {
        free_.push_back(b);
        return;
      } catch (...) {
      }
    }
    delete b;
  }

 private:
  static constexpr std::size_t max_free = 1024;
  std::vector<mailbox::block*> free_;
};

thread_local block_pool pool;

}  // namespace

mailbox::~mailbox() {
  while (size_ > 0) {
    envelope e;
    pop(e);
  }
  shrink();
}

std::size_t mailbox::blocks() const noexcept {
  std::size_t n = 0;
  for (const block* b = head_; b != nullptr; b = b->next) {
    ++n;
  }
  return n;
}

void mailbox::append_block() {
  block* b = pool.get();
  if (tail_ == nullptr) {
    head_ = b;
    head_off_ = 0;
  } else {
    tail_->next = b;
  }
  tail_ = b;
  tail_off_ = 0;
}

void mailbox::drop_head_block() noexcept {
  block* next = head_->next;
  pool.put(head_);
  head_ = next;
  head_off_ = 0;
}

void mailbox::shrink() noexcept {
  if (size_ == 0 && head_ != nullptr) {
    pool.put(head_);
    head_ = nullptr;
    tail_ = nullptr;
    head_off_ = 0;
    tail_off_ = 0;
  }
}

}  // namespace courier::detail
