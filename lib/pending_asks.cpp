#include "pending_asks.hpp"

#include <utility>

namespace courier::detail {

std::uint64_t pending_asks::add(actor_ref owner, continuation&& cont,
                                std::uint64_t deadline_ms) {
  std::uint32_t index =
      take_record(records_, free_head_, &record::next_free, next_seq_);
  record& r = records_[index];
  r.owner = owner;
  r.deadline = deadline_ms;
  r.timed_out = false;
  r.cont = std::move(cont);
  heap_.push(records_, index);
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
    heap_.remove(records_, index);
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

}  // namespace courier::detail
