#pragma once

// Small helpers shared by the loop's source files (lib/loop*.cpp).

#include "actor_access.hpp"

#include <uv.h>

namespace courier::detail {

using acc = actor_access;

template <class H>
uv_handle_t* as_handle(H* h) noexcept {
  return reinterpret_cast<uv_handle_t*>(h);
}

}  // namespace courier::detail
