#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

namespace courier {

/// courier's error vocabulary. Each failure of a runtime operation has
/// exactly one of these codes.
enum class errc : std::uint8_t {
  /// No reply arrived before the ask's deadline.
  ask_timeout = 1,
  /// The target actor does not exist, or stopped before it answered.
  target_dead,
  /// The handler threw; the error message carries what() of the exception.
  handler_threw,
  /// The target has no handler for the message's type.
  no_handler,
  /// A blocking wait was attempted on a loop thread (it would deadlock).
  blocking_on_loop,
  /// The system is shutting down or gone; the message was not accepted.
  system_stopped,
  /// The reply's type is not the type the asker expected.
  bad_reply_type,
  /// A response promise was destroyed without an answer.
  broken_promise,
  /// The target's mailbox is full (bounded mailboxes).
  mailbox_full,
};

/// The category of courier::errc ("courier").
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The error an ask fails with: a courier::errc plus a human-readable
/// message (for handler_threw, the what() of the handler's exception).
class ask_error : public std::system_error {
 public:
  ask_error(errc code, const std::string& what)
      : std::system_error(make_error_code(code), what) {}

  /// The courier error code.
  errc value() const noexcept { return static_cast<errc>(code().value()); }
};

}  // namespace courier

template <>
struct std::is_error_code_enum<courier::errc> : std::true_type {};
