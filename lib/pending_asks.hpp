#pragma once

// The asks that actors of one loop are waiting on: request id -> owner and
// continuation, plus a min-heap of deadlines (the loop's one uv timer serves
// these and the actor timers).
// A request id holds the record's index and a sequence number, so a reply
// that arrives after its record was reused is recognised as late.

#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/detail/callback.hpp"
#include "courier/detail/envelope.hpp"

#include "deadline_heap.hpp"

#include <cstdint>
#include <vector>

namespace courier::detail {

class pending_asks {
 public:
  using continuation = ask_continuation;

  /// Registers a request; returns its id (never 0).
  std::uint64_t add(actor_ref owner, continuation&& cont,
                    std::uint64_t deadline_ms);

  /// The record for `id`, or null when it is gone (late reply).
  struct record {
    std::uint32_t seq = 0;
    std::uint32_t heap_pos = 0;
    std::uint32_t next_free = 0;
    bool timed_out = false;
    actor_ref owner;
    std::uint64_t deadline = 0;
    continuation cont;
  };
  record* find(std::uint64_t id) noexcept;

  /// Removes the record for `id` (found by find()).
  void erase(std::uint64_t id) noexcept;

  /// Marks every record due at `now_ms` as timed out and calls
  /// `on_expired(id, owner)` for each.
  template <class F>
  void expire(std::uint64_t now_ms, F&& on_expired) {
    while (!heap_.empty() && records_[heap_.top()].deadline <= now_ms) {
      std::uint32_t index = heap_.top();
      heap_.remove(records_, index);
      record& r = records_[index];
      r.timed_out = true;
      on_expired(make_id(index, r.seq), r.owner);
    }
  }

  /// The earliest deadline, or 0 when nothing waits.
  std::uint64_t next_deadline() const noexcept {
    return heap_.empty() ? 0 : records_[heap_.top()].deadline;
  }

  /// Drops every record (continuations are destroyed, not called).
  void clear() noexcept;

  std::size_t size() const noexcept { return live_; }

 private:
  static constexpr std::uint32_t npos = 0xFFFFFFFFu;

  static std::uint64_t make_id(std::uint32_t index, std::uint32_t seq) {
    return (std::uint64_t{seq} << 32) | (std::uint64_t{index} + 1);
  }

  std::vector<record> records_;
  deadline_heap<record> heap_;
  std::uint32_t free_head_ = npos;
  std::uint32_t next_seq_ = 1;
  std::size_t live_ = 0;
};

}  // namespace courier::detail
