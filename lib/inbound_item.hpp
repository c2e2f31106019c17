#pragma once

// The element type of a loop's inbound queue (loop.hpp).
//
// moodycamel::ConcurrentQueue gives a producer a block back once the
// consumer has emptied it, and orders the two with std::atomic_thread_fence,
// which ThreadSanitizer does not model: it takes the producer's move into a
// recycled slot for a race with the consumer's move out of it. So under
// ThreadSanitizer an item releases its address when it is destroyed and
// acquires it when the queue moves one in: the edge those fences give, from
// the consumer's last access to a slot to the next producer's first, and no
// other. A suppression could not tell that report from a race in a user's
// message, whose move constructor runs in the same frames. Other builds
// queue the envelope itself.

#include "courier/detail/envelope.hpp"

#include <utility>

#if defined(__SANITIZE_THREAD__)
#define COURIER_INBOUND_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COURIER_INBOUND_TSAN 1
#endif
#endif

#ifdef COURIER_INBOUND_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace courier::detail {

#ifdef COURIER_INBOUND_TSAN

// A base, so that it is built before the envelope and destroyed after it.
// The queue moves each item into its slot, and nothing else moves one.
class slot_handover {
 protected:
  slot_handover() noexcept = default;
  slot_handover(const slot_handover& /*other*/) noexcept {
    __tsan_acquire(this);
  }
  slot_handover& operator=(const slot_handover& /*other*/) noexcept {
    return *this;
  }
  ~slot_handover() { __tsan_release(this); }
};

struct inbound_item : private slot_handover {
  inbound_item() = default;
  explicit inbound_item(envelope&& e) noexcept : env(std::move(e)) {}
  inbound_item(inbound_item&&) noexcept = default;
  inbound_item& operator=(inbound_item&&) noexcept = default;
  ~inbound_item() = default;

  envelope env;
};

inline inbound_item to_inbound(envelope&& e) noexcept {
  return inbound_item(std::move(e));
}
inline envelope& from_inbound(inbound_item& item) noexcept {
  return item.env;
}

#else

using inbound_item = envelope;

inline envelope&& to_inbound(envelope&& e) noexcept {
  return std::move(e);
}
inline envelope& from_inbound(envelope& e) noexcept {
  return e;
}

#endif

}  // namespace courier::detail
