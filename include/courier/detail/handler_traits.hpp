#pragma once

#include <type_traits>

namespace courier::detail {

template <class T>
struct handler_signature;

template <class C, class R, class A>
struct handler_signature<R (C::*)(A)> {
  using result = R;
  using param = A;
};
template <class C, class R, class A>
struct handler_signature<R (C::*)(A) const> : handler_signature<R (C::*)(A)> {};
template <class C, class R, class A>
struct handler_signature<R (C::*)(A) noexcept>
    : handler_signature<R (C::*)(A)> {};
template <class C, class R, class A>
struct handler_signature<R (C::*)(A) const noexcept>
    : handler_signature<R (C::*)(A)> {};

/// Deduces the message type and the result type of a handler: a callable
/// with one parameter (the message, by value, const&, & or &&).
template <class F>
struct handler_traits
    : handler_signature<decltype(&std::decay_t<F>::operator())> {
  using message = std::remove_cvref_t<typename handler_signature<
      decltype(&std::decay_t<F>::operator())>::param>;
};

}  // namespace courier::detail
