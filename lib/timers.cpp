#include "timers.hpp"

#include <utility>

namespace courier::detail {

std::uint64_t timer_table::add(actor* owner, std::uint32_t& head,
                               std::uint64_t deadline, std::uint64_t period,
                               std::unique_ptr<timer_action> action) {
  std::uint32_t index =
      take_record(records_, free_head_, &record::next, next_seq_);
  record& r = records_[index];
  r.owner = owner;
  r.deadline = deadline;
  r.period = period;
  r.queued = false;
  r.action = std::move(action);
  r.prev = npos;
  r.next = head;
  if (head != npos) {
    records_[head].prev = index;
  }
  head = index;
  heap_.push(records_, index);
  ++live_;
  return make_id(index, r.seq);
}

timer_table::record* timer_table::find(std::uint64_t id) noexcept {
  std::uint64_t low = id & 0xFFFFFFFFu;
  if (low == 0 || low > records_.size()) {
    return nullptr;
  }
  record& r = records_[low - 1];
  if (r.seq == 0 || r.seq != static_cast<std::uint32_t>(id >> 32)) {
    return nullptr;
  }
  return &r;
}

void timer_table::erase(std::uint64_t id, std::uint32_t& head) {
  std::uint32_t index = index_of(id);
  record& r = records_[index];
  if (r.heap_pos != no_heap_pos) {
    heap_.remove(records_, index);
  }
  if (!r.key.empty()) {
    keys_.erase(keys_.find(key_view{r.owner, r.key}));
    r.key.clear();
  }
  if (r.prev != npos) {
    records_[r.prev].next = r.next;
  } else {
    head = r.next;
  }
  if (r.next != npos) {
    records_[r.next].prev = r.prev;
  }
  std::unique_ptr<timer_action> action = std::move(r.action);
  r.seq = 0;
  r.owner = nullptr;
  r.prev = npos;
  r.next = free_head_;
  free_head_ = index;
  --live_;
  // Last: a destructor that starts or cancels timers sees a consistent
  // table.
  action.reset();
}

void timer_table::erase_all(std::uint32_t& head) {
  while (head != npos) {
    erase(make_id(head, records_[head].seq), head);
  }
}

std::uint64_t timer_table::find_key(actor* owner, std::string_view key) const {
  auto it = keys_.find(key_view{owner, key});
  return it == keys_.end() ? 0 : it->second;
}

void timer_table::set_key(std::uint64_t id, std::string_view key) {
  record& r = records_[index_of(id)];
  r.key.assign(key);
  keys_[{r.owner, r.key}] = id;
}

void timer_table::clear() noexcept {
  records_.clear();
  heap_.clear();
  keys_.clear();
  free_head_ = npos;
  live_ = 0;
}

}  // namespace courier::detail
