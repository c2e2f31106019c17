#pragma once

#include <cstddef>

namespace courier {

/// What a message is: any movable C++ type. Messages whose size is at most
/// `message_inline_size` bytes, whose alignment is at most
/// `message_inline_align` and whose move constructor is noexcept are stored
/// inside the envelope (no heap allocation per message); larger ones are
/// moved to the heap once, when they are sent.
inline constexpr std::size_t message_inline_size = 48;
inline constexpr std::size_t message_inline_align = 16;

/// The reply of a handler that returns void (what `ask<void>` waits for).
struct unit {
  friend bool operator==(unit, unit) = default;
};

}  // namespace courier
