#include "courier/actor.hpp"

#include "actor_access.hpp"

namespace courier {

actor::~actor() = default;

void actor::stop() noexcept {
  if (state_ == detail::running || state_ == detail::created) {
    state_ = detail::stopping;
  }
}

}  // namespace courier
