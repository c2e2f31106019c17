#include "courier/system.hpp"

#include "system_core.hpp"

namespace courier {

detail::system_core& detail::core_of(system& sys) noexcept {
  return *sys.core_;
}

system::system(system_config cfg)
    : core_(std::make_unique<detail::system_core>(std::move(cfg), nullptr)) {}

system::system(uv_loop_t& loop, system_config cfg)
    : core_(std::make_unique<detail::system_core>(std::move(cfg), &loop)) {}

system::~system() {
  core_->shutdown();
}

void system::stop(actor_ref target) {
  detail::envelope e;
  e.kind = detail::envelope_kind::stop;
  e.target = target;
  detail::post(std::move(e));
}

void system::shutdown() {
  core_->shutdown();
}

void system::request_shutdown() noexcept {
  core_->request_shutdown();
}

void system::handle_signals() {
  core_->handle_signals();
}

void system::wait_for_shutdown() {
  core_->wait_for_shutdown();
}

void system::wait_for_shutdown_request() {
  core_->wait_for_shutdown_request();
}

std::size_t system::loop_count() const noexcept {
  return core_->loop_count();
}

courier::metrics system::metrics() const {
  return core_->snapshot();
}

}  // namespace courier
