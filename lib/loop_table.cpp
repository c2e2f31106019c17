// The loop's actor table: adding an actor (any thread), starting those
// added from other threads, and freeing a slot. The hot lookups (resolve)
// stay in loop.cpp, next to the send path that inlines them.

#include "courier/actor.hpp"

#include "actor_access.hpp"
#include "loop.hpp"
#include "loop_internal.hpp"
#include "system_core.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace courier::detail {

// --- the slot table ---------------------------------------------------------

actor_ref loop::add(std::unique_ptr<actor> a) {
  std::uint32_t index;
  std::uint32_t gen;
  {
    std::lock_guard<std::mutex> lock(table_mutex_);
    if (free_head_ != npos) {
      index = free_head_;
      free_head_ = slot_at(index).next_free;
    } else {
      index = slots_used_;
      std::uint32_t c = index >> chunk_bits;
      if (c >= max_chunks) {
        throw std::length_error("courier: too many actors on one loop");
      }
      if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
        chunks_[c].store(new slot[chunk_size], std::memory_order_release);
      }
      ++slots_used_;
    }
    slot& s = slot_at(index);
    gen = s.generation.load(std::memory_order_relaxed);
    acc::home(*a) = this;
    acc::self(*a) = core_.make_ref(index_, index, gen);
    actor* raw = a.release();
    s.ptr.store(raw, std::memory_order_release);
    if (loop::current() != this) {
      to_start_.push_back(raw);
      has_starts_.store(true, std::memory_order_relaxed);
    } else {
      schedule(*raw);
    }
  }
  actors_.fetch_add(1, std::memory_order_relaxed);
  if (loop::current() != this) {
    wake_if_sleeping();
  }
  return core_.make_ref(index_, index, gen);
}

bool loop::take_starts() {
  if (!has_starts_.load(std::memory_order_acquire)) {
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(table_mutex_);
    starting_.swap(to_start_);
    has_starts_.store(false, std::memory_order_relaxed);
  }
  for (actor* a : starting_) {
    if (acc::state(*a) == created) {
      schedule(*a);
    }
  }
  bool any = !starting_.empty();
  starting_.clear();
  return any;
}

actor* loop::local_actor(actor_ref ref) const noexcept {
  if (system_core::system_of(ref) != core_.id() || ref.loop() != index_) {
    return nullptr;
  }
  actor* a = resolve(ref);
  return a == nullptr || acc::state(*a) == dead ? nullptr : a;
}

void loop::remove_watcher(stop_watcher* w) noexcept {
  std::erase(watchers_, w);
}

void loop::watch(actor& a) noexcept {
  acc::watched(a) = true;
}

void loop::release_slot(std::uint32_t index) noexcept {
  std::lock_guard<std::mutex> lock(table_mutex_);
  slot& s = slot_at(index);
  std::uint32_t gen = s.generation.load(std::memory_order_relaxed) + 1;
  s.generation.store(gen == 0 ? 1 : gen, std::memory_order_release);
  s.ptr.store(nullptr, std::memory_order_relaxed);
  s.next_free = free_head_;
  free_head_ = index;
}

}  // namespace courier::detail
