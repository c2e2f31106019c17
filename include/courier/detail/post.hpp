#pragma once

#include "courier/detail/envelope.hpp"
#include "courier/error.hpp"

#include <string>
#include <string_view>

namespace courier::detail {

/// The one exported entry point that public templates use to send: routes
/// `e` to e.target (same-loop FIFO, another loop's inbound queue, or dead
/// letters). Thread safety: any thread.
void post(envelope&& e) noexcept;

/// Answers the request described by `request` (its reply_to, request_id and
/// mode) with `reply`, then marks the request answered. Does nothing when
/// the request expects no answer. Thread safety: any thread.
void reply(envelope& request, envelope&& reply) noexcept;

/// Answers `request` with an error. Thread safety: any thread.
void reply_error(envelope& request, errc code, std::string_view what) noexcept;

/// True on a thread that runs a courier loop (blocking there would deadlock).
bool on_loop_thread() noexcept;

/// The error payload of a failed ask.
struct ask_failure {
  errc code;
  std::string what;
};

}  // namespace courier::detail
