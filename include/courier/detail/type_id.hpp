#pragma once

#include <string_view>

namespace courier::detail {

/// Operations the runtime needs on a message whose type it does not know.
/// One constant instance exists per message type; its address is the
/// message's type id (no RTTI).
struct msg_vtable {
  /// Move-constructs *dst from *src and destroys *src; null: bitwise copy.
  void (*relocate)(void* dst, void* src) noexcept;
  /// Destroys the object; null: trivially destructible.
  void (*destroy)(void* obj) noexcept;
  /// The type's name, for diagnostics (dead letters, unhandled messages).
  std::string_view name;
  /// True when the object lives on the heap and the envelope holds a pointer.
  bool on_heap;
  /// Bytes of the envelope's buffer the object (or the pointer) takes.
  unsigned short stored_size;
  /// Their alignment.
  unsigned short stored_align;
};

using type_id = const msg_vtable*;

/// The name of T as the compiler spells it.
template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view p = __PRETTY_FUNCTION__;
  auto start = p.find("T = ");
  if (start == std::string_view::npos) {
    return p;
  }
  start += 4;
  auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

}  // namespace courier::detail
