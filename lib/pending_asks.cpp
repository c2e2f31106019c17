#include "pending_asks.hpp"

#include <utility>

namespace courier::detail {

std::uint64_t pending_asks::add(actor_ref owner, continuation&& cont,
                                std::uint64_t deadline_ms) {
  std::uint32_t index;
  if (free_head_ != npos) {
    index = free_head_;
    free_head_ = records_[index].next_free;
  } else {
    index = static_cast<std::uint32_t>(records_.size());
    records_.emplace_back();
  }
  record& r = records_[index];
  r.seq = next_seq_++;
  if (next_seq_ == 0) {
    next_seq_ = 1;
  }
  r.owner = owner;
  r.deadline = deadline_ms;
  r.timed_out = false;
  r.cont = std::move(cont);
  heap_push(index);
  ++live_;
  return make_id(index, r.seq);
}

pending_asks::record* pending_asks::find(std::uint64_t id) noexcept {
  std::uint64_t low = id & 0xFFFFFFFFu;
  if (low == 0 || low > records_.size()) {
    return nullptr;
  }
  record& r = records_[low - 1];
  if (r.seq != static_cast<std::uint32_t>(id >> 32) || !r.cont.has_value()) {
    return nullptr;
  }
  return &r;
}

void pending_asks::erase(std::uint64_t id) noexcept {
  auto index = static_cast<std::uint32_t>((id & 0xFFFFFFFFu) - 1);
  record& r = records_[index];
  if (!r.timed_out) {
    heap_remove(r.heap_pos);
  }
  r.cont.reset();
  r.seq = 0;
  r.next_free = free_head_;
  free_head_ = index;
  --live_;
}

void pending_asks::clear() noexcept {
  records_.clear();
  heap_.clear();
  free_head_ = npos;
  live_ = 0;
}

void pending_asks::heap_push(std::uint32_t index) {
  heap_.push_back(index);
  auto pos = static_cast<std::uint32_t>(heap_.size() - 1);
  records_[index].heap_pos = pos;
  sift_up(pos);
}

void pending_asks::heap_remove(std::uint32_t pos) noexcept {
  std::uint32_t last = heap_.back();
  heap_.pop_back();
  records_[last].heap_pos = pos;
  if (pos < heap_.size()) {
    heap_set(pos, last);
    sift_up(pos);
    sift_down(records_[last].heap_pos);
  }
}

void pending_asks::sift_up(std::uint32_t pos) noexcept {
  std::uint32_t index = heap_[pos];
  while (pos > 0) {
    std::uint32_t parent = (pos - 1) / 2;
    if (records_[heap_[parent]].deadline <= records_[index].deadline) {
      break;
    }
    heap_set(pos, heap_[parent]);
    pos = parent;
  }
  heap_set(pos, index);
}

void pending_asks::sift_down(std::uint32_t pos) noexcept {
  auto n = static_cast<std::uint32_t>(heap_.size());
  std::uint32_t index = heap_[pos];
  for (;;) {
    std::uint32_t child = 2 * pos + 1;
    if (child >= n) {
      break;
    }
    if (child + 1 < n &&
        records_[heap_[child + 1]].deadline < records_[heap_[child]].deadline) {
      ++child;
    }
    if (records_[index].deadline <= records_[heap_[child]].deadline) {
      break;
    }
    heap_set(pos, heap_[child]);
    pos = child;
  }
  heap_set(pos, index);
}

}  // namespace courier::detail
