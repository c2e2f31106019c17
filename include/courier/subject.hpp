#pragma once

// NATS-style subjects: tokens separated by '.', e.g. "orders.eu.created".
// A pattern may use '*' for exactly one token and '>' (last token only) for
// one or more trailing tokens: "orders.*.created", "orders.>".

#include <string>
#include <string_view>

namespace courier {

/// Why a subject or a pattern is not valid, or null when it is.
/// A subject has at least one token, no empty token, no whitespace, and no
/// '*' or '>' (a subject names one thing). A pattern follows the same rules,
/// except that a whole token may be '*', and the last token may be '>'.
const char* subject_error(std::string_view subject) noexcept;
const char* pattern_error(std::string_view pattern) noexcept;

inline bool valid_subject(std::string_view s) noexcept {
  return subject_error(s) == nullptr;
}
inline bool valid_pattern(std::string_view p) noexcept {
  return pattern_error(p) == nullptr;
}

/// Throw std::invalid_argument with a message that names the subject (or
/// pattern) and the rule it breaks.
void check_subject(std::string_view subject);
void check_pattern(std::string_view pattern);

/// True when a valid `subject` matches a valid `pattern`.
bool subject_matches(std::string_view pattern,
                     std::string_view subject) noexcept;

}  // namespace courier
