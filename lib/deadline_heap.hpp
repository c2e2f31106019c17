#pragma once

// An indexed binary min-heap of deadlines over records that live in a
// caller's vector: each record has `std::uint64_t deadline` and
// `std::uint32_t heap_pos`, so a record can leave the heap from anywhere in
// O(log n). Used by both the ask deadlines and the actor timers of a loop,
// which share one uv_timer_t.

#include <cstdint>
#include <vector>

namespace courier::detail {

inline constexpr std::uint32_t no_heap_pos = 0xFFFFFFFFu;
inline constexpr std::uint32_t no_record = 0xFFFFFFFFu;

/// Takes a record index off the free list threaded through `link` (or
/// appends a record) and stamps it with the next sequence number (never
/// 0), so that an id (index, sequence) of a reused record goes stale.
template <class Record>
std::uint32_t take_record(std::vector<Record>& records,
                          std::uint32_t& free_head, std::uint32_t Record::*link,
                          std::uint32_t& next_seq) {
  std::uint32_t index;
  if (free_head != no_record) {
    index = free_head;
    free_head = records[index].*link;
  } else {
    index = static_cast<std::uint32_t>(records.size());
    records.emplace_back();
  }
  records[index].seq = next_seq++;
  if (next_seq == 0) {
    next_seq = 1;
  }
  return index;
}

template <class Record>
class deadline_heap {
 public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }

  /// The index of the record with the earliest deadline; heap not empty.
  std::uint32_t top() const noexcept { return heap_[0]; }

  void push(std::vector<Record>& records, std::uint32_t index) {
    heap_.push_back(index);
    auto pos = static_cast<std::uint32_t>(heap_.size() - 1);
    records[index].heap_pos = pos;
    sift_up(records, pos);
  }

  /// Takes the record at `index` out of the heap (it must be in it).
  void remove(std::vector<Record>& records, std::uint32_t index) noexcept {
    std::uint32_t pos = records[index].heap_pos;
    records[index].heap_pos = no_heap_pos;
    std::uint32_t last = heap_.back();
    heap_.pop_back();
    if (pos < heap_.size()) {
      set(records, pos, last);
      sift_up(records, pos);
      sift_down(records, records[last].heap_pos);
    }
  }

  void clear() noexcept { heap_.clear(); }

 private:
  void set(std::vector<Record>& records, std::uint32_t pos,
           std::uint32_t index) noexcept {
    heap_[pos] = index;
    records[index].heap_pos = pos;
  }

  void sift_up(std::vector<Record>& records, std::uint32_t pos) noexcept {
    std::uint32_t index = heap_[pos];
    while (pos > 0) {
      std::uint32_t parent = (pos - 1) / 2;
      if (records[heap_[parent]].deadline <= records[index].deadline) {
        break;
      }
      set(records, pos, heap_[parent]);
      pos = parent;
    }
    set(records, pos, index);
  }

  void sift_down(std::vector<Record>& records, std::uint32_t pos) noexcept {
    auto n = static_cast<std::uint32_t>(heap_.size());
    std::uint32_t index = heap_[pos];
    for (;;) {
      std::uint32_t child = 2 * pos + 1;
      if (child >= n) {
        break;
      }
      if (child + 1 < n &&
          records[heap_[child + 1]].deadline < records[heap_[child]].deadline) {
        ++child;
      }
      if (records[index].deadline <= records[heap_[child]].deadline) {
        break;
      }
      set(records, pos, heap_[child]);
      pos = child;
    }
    set(records, pos, index);
  }

  std::vector<std::uint32_t> heap_;
};

}  // namespace courier::detail
