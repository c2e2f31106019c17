#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace courier::detail {

template <class Sig, std::size_t InlineSize = 3 * sizeof(void*)>
class callback;

/// A move-only type-erased callable with a small inline buffer, so that
/// handlers and ask continuations capturing a few pointers do not allocate.
template <class R, class... Args, std::size_t InlineSize>
class callback<R(Args...), InlineSize> {
 public:
  static constexpr std::size_t inline_size = InlineSize;

  callback() = default;

  template <class F>
  requires(!std::is_same_v<std::decay_t<F>, callback> &&
           std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
      callback(F&& f) {  // NOLINT(google-explicit-constructor)
    using fn = std::decay_t<F>;
    if constexpr (sizeof(fn) <= inline_size && alignof(fn) <= alignof(void*) &&
                  std::is_nothrow_move_constructible_v<fn>) {
      ::new (static_cast<void*>(buf_)) fn(std::forward<F>(f));
      invoke_ = [](void* self, Args... args) -> R {
        return (*static_cast<fn*>(self))(std::forward<Args>(args)...);
      };
      manage_ = [](void* dst, void* src) noexcept {
        auto* s = static_cast<fn*>(src);
        if (dst != nullptr) {
          ::new (dst) fn(std::move(*s));
        }
        s->~fn();
      };
    } else {
      fn* p = new fn(std::forward<F>(f));
      ::new (static_cast<void*>(buf_)) fn*(p);
      invoke_ = [](void* self, Args... args) -> R {
        return (**static_cast<fn**>(self))(std::forward<Args>(args)...);
      };
      manage_ = [](void* dst, void* src) noexcept {
        auto* s = static_cast<fn**>(src);
        if (dst != nullptr) {
          ::new (dst) fn*(*s);
        } else {
          delete *s;
        }
      };
    }
  }

  callback(callback&& other) noexcept { steal(other); }

  callback& operator=(callback&& other) noexcept {
    if (this != &other) {
      reset();
      steal(other);
    }
    return *this;
  }

  callback(const callback&) = delete;
  callback& operator=(const callback&) = delete;

  ~callback() { reset(); }

  /// True when it holds a callable.
  bool has_value() const noexcept { return invoke_ != nullptr; }

  R operator()(Args... args) {
    return invoke_(buf_, std::forward<Args>(args)...);
  }

  void reset() noexcept {
    if (manage_ != nullptr) {
      manage_(nullptr, buf_);
    }
    invoke_ = nullptr;
    manage_ = nullptr;
  }

 private:
  void steal(callback& other) noexcept {
    invoke_ = other.invoke_;
    manage_ = other.manage_;
    if (manage_ != nullptr) {
      manage_(buf_, other.buf_);
    }
    other.invoke_ = nullptr;
    other.manage_ = nullptr;
  }

  R (*invoke_)(void*, Args...) = nullptr;
  void (*manage_)(void* dst, void* src) noexcept = nullptr;
  alignas(void*) unsigned char buf_[inline_size];
};

}  // namespace courier::detail
