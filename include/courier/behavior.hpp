#pragma once

#include "courier/detail/callback.hpp"
#include "courier/detail/envelope.hpp"
#include "courier/detail/handler_traits.hpp"
#include "courier/detail/post.hpp"
#include "courier/message.hpp"

#include <type_traits>
#include <utility>
#include <vector>

namespace courier {

template <class R>
class response_promise;

namespace detail {

template <class T>
struct is_response_promise : std::false_type {};
template <class T>
struct is_response_promise<response_promise<T>> : std::true_type {};

}  // namespace detail

/// A set of typed handlers: each is a callable taking one message (by
/// value, const&, & or &&); the message's type chooses the handler. A
/// handler's return value answers an ask (void answers with courier::unit;
/// a returned response_promise means "I will answer later"). When two
/// handlers take the same type, the first one wins.
/// Build it with a braced list of lambdas:
///   return {[this](const add& m) { sum_ += m.n; },
///           [this](total) { return sum_; }};
/// Thread safety: owned by one actor; used on its loop only.
class behavior {
 public:
  behavior() = default;

  template <class... Fs>
  requires(sizeof...(Fs) > 0 &&
           (!std::is_same_v<std::decay_t<Fs>, behavior> && ...))
      behavior(Fs&&... fs) {  // NOLINT(google-explicit-constructor)
    handlers_.reserve(sizeof...(Fs));
    (add(std::forward<Fs>(fs)), ...);
  }

  /// True when the behavior has no handler at all.
  bool empty() const noexcept { return handlers_.empty(); }

  /// Runs the handler for e's type; false when there is none.
  /// Exceptions from the handler propagate to the caller (the loop).
  bool invoke(detail::envelope& e) {
    for (auto& h : handlers_) {
      if (h.type == e.type()) {
        h.fn(e);
        return true;
      }
    }
    return false;
  }

 private:
  struct handler {
    detail::type_id type;
    // Handlers usually capture `this` only: keep them small.
    detail::callback<void(detail::envelope&), 2 * sizeof(void*)> fn;
  };

  template <class F>
  void add(F&& f) {
    using traits = detail::handler_traits<F>;
    using message = typename traits::message;
    using param = typename traits::param;
    using result = typename traits::result;
    handlers_.push_back(handler{
        detail::type_of<message>(),
        [f = std::forward<F>(f)](detail::envelope& e) mutable {
          auto& m = e.get<message>();
          auto call = [&]() -> decltype(auto) {
            if constexpr (std::is_lvalue_reference_v<param>) {
              return f(m);
            } else {
              return f(std::move(m));
            }
          };
          if constexpr (std::is_void_v<result>) {
            call();
            if (e.mode != detail::reply_mode::none) {
              detail::envelope out;
              out.emplace<unit>();
              detail::reply(e, std::move(out));
            }
          } else if constexpr (detail::is_response_promise<
                                   std::remove_cvref_t<result>>::value) {
            (void)call();
          } else {
            if (e.mode != detail::reply_mode::none) {
              detail::envelope out;
              out.emplace<std::remove_cvref_t<result>>(call());
              detail::reply(e, std::move(out));
            } else {
              (void)call();
            }
          }
        }});
  }

  std::vector<handler> handlers_;
};

}  // namespace courier
