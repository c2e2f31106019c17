#pragma once

// The actor timers of one loop: a table of records (recycled through a free
// list, each id holds the record's index and a sequence number) and a
// min-heap of deadlines. The loop's one uv timer is armed at the earliest
// deadline of this table and of the pending asks, so a pending timer costs
// one record and one heap entry, and nothing is scanned per tick.
//
// A tick does not run the timer's action directly: it queues a timer
// envelope in the owner's mailbox, and the action runs when that envelope
// is handled, if the record is still there with the same sequence number.
// So a cancel or a keyed replacement wins even over a tick already queued.

#include "courier/timer.hpp"

#include "deadline_heap.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace courier {
class actor;
}

namespace courier::detail {

class timer_table {
 public:
  static constexpr std::uint32_t npos = 0xFFFFFFFFu;

  struct record {
    std::uint32_t seq = 0;  // 0: free
    std::uint32_t heap_pos = no_heap_pos;
    std::uint32_t prev = npos;  // the owner's list (next doubles as free list)
    std::uint32_t next = npos;
    bool queued = false;  // a tick waits in the owner's mailbox
    actor* owner = nullptr;
    std::uint64_t deadline = 0;
    std::uint64_t period = 0;  // 0: once
    std::unique_ptr<timer_action> action;
    std::string key;  // empty: not keyed
  };

  /// Adds a timer of `owner` (whose list head is `head`) due at `deadline`.
  std::uint64_t add(actor* owner, std::uint32_t& head, std::uint64_t deadline,
                    std::uint64_t period, std::unique_ptr<timer_action> action);

  /// The record for `id`, or null when it ended or was cancelled.
  record* find(std::uint64_t id) noexcept;

  /// Removes the timer `id` (found by find()) from its owner's list `head`
  /// and from the key index; its action is destroyed.
  void erase(std::uint64_t id, std::uint32_t& head);

  /// Removes every timer of the owner whose list head is `head`.
  void erase_all(std::uint32_t& head);

  /// Keyed timers: the id of `owner`'s timer of `key`, or 0.
  std::uint64_t find_key(actor* owner, std::string_view key) const;
  void set_key(std::uint64_t id, std::string_view key);

  /// Handles every timer due at `now`: `tick(id, owner)` is called for each
  /// whose tick must be queued. A periodic timer moves to its next slot on
  /// the grid (start + k * period) after `now`; slots it jumps over, and a
  /// slot that falls due while its previous tick still waits, are skipped
  /// and counted.
  template <class F>
  void expire(std::uint64_t now, F&& tick) {
    while (!heap_.empty() && records_[heap_.top()].deadline <= now) {
      std::uint32_t index = heap_.top();
      record& r = records_[index];
      bool queue_tick = !r.queued;
      if (!queue_tick) {
        ++skipped_;
      }
      if (r.period == 0) {
        heap_.remove(records_, index);
      } else {
        std::uint64_t late = now - r.deadline;
        std::uint64_t missed = late / r.period;
        skipped_ += missed;
        r.deadline += (missed + 1) * r.period;
        heap_.remove(records_, index);
        heap_.push(records_, index);
      }
      if (queue_tick) {
        r.queued = true;
        tick(make_id(index, r.seq), r.owner);
      }
    }
  }

  /// The earliest deadline, or 0 when no timer is pending.
  std::uint64_t next_deadline() const noexcept {
    return heap_.empty() ? 0 : records_[heap_.top()].deadline;
  }

  std::size_t size() const noexcept { return live_; }
  std::uint64_t skipped() const noexcept { return skipped_; }

  /// Drops every record.
  void clear() noexcept;

 private:
  static std::uint64_t make_id(std::uint32_t index, std::uint32_t seq) {
    return (std::uint64_t{seq} << 32) | (std::uint64_t{index} + 1);
  }
  static std::uint32_t index_of(std::uint64_t id) noexcept {
    return static_cast<std::uint32_t>((id & 0xFFFFFFFFu) - 1);
  }

  // (owner, key) -> timer id, looked up by a view of the key (no string
  // is built to find or cancel a keyed timer).
  struct key_view {
    actor* owner;
    std::string_view key;
  };
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(const key_view& k) const noexcept {
      return std::hash<std::string_view>{}(k.key) ^
             (std::hash<actor*>{}(k.owner) * 0x9E3779B97F4A7C15ull);
    }
    std::size_t operator()(
        const std::pair<actor*, std::string>& k) const noexcept {
      return (*this)(key_view{k.first, k.second});
    }
  };
  struct key_equal {
    using is_transparent = void;
    static key_view view(const key_view& k) noexcept { return k; }
    static key_view view(const std::pair<actor*, std::string>& k) noexcept {
      return {k.first, k.second};
    }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      key_view x = view(a);
      key_view y = view(b);
      return x.owner == y.owner && x.key == y.key;
    }
  };

  std::vector<record> records_;
  deadline_heap<record> heap_;
  std::unordered_map<std::pair<actor*, std::string>, std::uint64_t, key_hash,
                     key_equal>
      keys_;
  std::uint32_t free_head_ = npos;
  std::uint32_t next_seq_ = 1;
  std::size_t live_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace courier::detail
