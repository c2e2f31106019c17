#pragma once

#include "courier/actor_ref.hpp"
#include "courier/detail/type_id.hpp"
#include "courier/message.hpp"

#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace courier::detail {

template <class T>
inline constexpr bool fits_inline =
    sizeof(T) <= message_inline_size &&
    alignof(T) <=
        message_inline_align&& std::is_nothrow_move_constructible_v<T>;

template <class T>
struct vtable_holder {
  static void relocate(void* dst, void* src) noexcept {
    auto* s = static_cast<T*>(src);
    ::new (dst) T(std::move(*s));
    s->~T();
  }
  static void destroy_inline(void* obj) noexcept { static_cast<T*>(obj)->~T(); }
  static void destroy_heap(void* slot) noexcept {
    T* p = nullptr;
    std::memcpy(&p, slot, sizeof(p));
    delete p;
  }
  static constexpr bool trivial =
      std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>;
  static constexpr msg_vtable value = {
      fits_inline<T> && !trivial ? &relocate : nullptr,
      fits_inline<T> ? (trivial ? nullptr : &destroy_inline) : &destroy_heap,
      type_name<T>(),
      !fits_inline<T>,
      static_cast<unsigned short>(fits_inline<T> ? sizeof(T) : sizeof(T*)),
      static_cast<unsigned short>(fits_inline<T> ? alignof(T) : alignof(T*))};
};

/// The type id of message type T.
template <class T>
constexpr type_id type_of() noexcept {
  return &vtable_holder<T>::value;
}

/// How the answer to a message travels back, if it is a request.
enum class reply_mode : std::uint8_t {
  none,    ///< a tell: no answer expected
  actor,   ///< answer goes to `reply_to`, matched by `request_id`
  waiter,  ///< answer completes the blocking ask state at `request_id`
};

class envelope;
class mailbox;

/// Answers an unanswered request that is being destroyed with
/// errc::broken_promise (defined in lib/). Thread safety: any thread.
void drop_request(envelope& request) noexcept;

/// What an envelope carries besides a user message.
enum class envelope_kind : std::uint8_t {
  message,  ///< a user message for the behavior
  reply,    ///< the answer to an ask made by the target actor
  stop,     ///< ordered stop request
  timer,    ///< a tick of one of the target's timers (request_id names it)
  event,    ///< a pub/sub event: reply_to is the delivering feed, request_id
            ///< the subscription
};

/// A message in flight: the object (inline up to message_inline_size bytes,
/// otherwise on the heap), its type id, its target and, for a request, the
/// way back. Move-only.
class envelope {
 public:
  envelope() noexcept : buf_{} {}
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;

  envelope(envelope&& other) noexcept
      : target(other.target),
        reply_to(other.reply_to),
        request_id(other.request_id),
        kind(other.kind),
        mode(other.mode),
        vt_(other.vt_) {
    other.mode = reply_mode::none;
    take_object(other);
  }

  envelope& operator=(envelope&& other) noexcept {
    if (this != &other) {
      finish();
      steal(other);
    }
    return *this;
  }

  ~envelope() { finish(); }

  /// Constructs a T in the envelope from args; the envelope must be empty.
  template <class T, class... Args>
  void emplace(Args&&... args) {
    if constexpr (fits_inline<T>) {
      ::new (static_cast<void*>(buf_)) T(std::forward<Args>(args)...);
    } else {
      T* p = new T(std::forward<Args>(args)...);
      std::memcpy(buf_, &p, sizeof(p));
    }
    vt_ = type_of<T>();
  }

  /// The message type, or null when empty.
  type_id type() const noexcept { return vt_; }

  /// The message object; the envelope must hold one.
  void* data() noexcept {
    if (vt_->on_heap) {
      void* p = nullptr;
      std::memcpy(&p, buf_, sizeof(p));
      return p;
    }
    return buf_;
  }

  /// The message as a T; the caller checked that type() == type_of<T>().
  template <class T>
  T& get() noexcept {
    return *static_cast<T*>(data());
  }

  /// Destroys the message (if any) and clears the type.
  void reset() noexcept {
    if (vt_ != nullptr) {
      if (vt_->destroy != nullptr) {
        vt_->destroy(buf_);
      }
      vt_ = nullptr;
    }
  }

  actor_ref target;
  actor_ref reply_to;
  std::uint64_t request_id = 0;
  envelope_kind kind = envelope_kind::message;
  reply_mode mode = reply_mode::none;

 private:
  friend class mailbox;  // stores and restores envelopes in compact form

  // A request must never vanish unanswered: its asker would wait forever.
  void finish() noexcept {
    if (mode != reply_mode::none) {
      drop_request(*this);
    }
    reset();
  }

  void steal(envelope& other) noexcept {
    target = other.target;
    reply_to = other.reply_to;
    request_id = other.request_id;
    kind = other.kind;
    mode = other.mode;
    other.mode = reply_mode::none;
    vt_ = other.vt_;
    take_object(other);
  }

  // Moves the object from `other` (whose vt_ was copied to ours).
  void take_object(envelope& other) noexcept {
    if (vt_ != nullptr) {
      if (vt_->relocate != nullptr) {
        vt_->relocate(buf_, other.buf_);
      } else {
        std::memcpy(buf_, other.buf_, message_inline_size);
      }
      other.vt_ = nullptr;
    }
  }

  const msg_vtable* vt_ = nullptr;
  // Zeroed by the default constructor only: a move fills it.
  alignas(message_inline_align) unsigned char buf_[message_inline_size];
};

}  // namespace courier::detail
