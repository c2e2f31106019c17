// Commands from the system (stop the actors, close, signals), closing the
// loop's handles, and the loop's counters.

#include "courier/actor.hpp"

#include "actor_access.hpp"
#include "loop.hpp"
#include "loop_internal.hpp"
#include "system_core.hpp"

#include <signal.h>

namespace courier::detail {

// --- shutdown ---------------------------------------------------------------

void loop::request_stop_actors() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  sleep_state_.store(awake, std::memory_order_relaxed);
  uv_async_send(&async_);
}

void loop::request_close() noexcept {
  close_requested_.store(true, std::memory_order_release);
  sleep_state_.store(awake, std::memory_order_relaxed);
  uv_async_send(&async_);
}

void loop::install_signals() {
  if (!signals_on_ && !closing_) {
    uv_signal_init(uv_, &sigint_);
    uv_signal_init(uv_, &sigterm_);
    sigint_.data = this;
    sigterm_.data = this;
    uv_signal_start(&sigint_, &loop::on_signal, SIGINT);
    uv_signal_start(&sigterm_, &loop::on_signal, SIGTERM);
    uv_unref(as_handle(&sigint_));
    uv_unref(as_handle(&sigterm_));
    open_handles_ += 2;
    signals_on_ = true;
  }
  core_.signals_installed();
}

void loop::request_uv_stop() noexcept {
  uv_stop_requested_.store(true, std::memory_order_release);
  sleep_state_.store(awake, std::memory_order_relaxed);
  uv_async_send(&async_);
}

void loop::request_signals() noexcept {
  signals_requested_.store(true, std::memory_order_release);
  sleep_state_.store(awake, std::memory_order_relaxed);
  uv_async_send(&async_);
}

void loop::close_handles() {
  closing_ = true;
  uv_close(as_handle(&async_), &loop::on_close);
  uv_close(as_handle(&prepare_), &loop::on_close);
  uv_close(as_handle(&idle_), &loop::on_close);
  uv_close(as_handle(&timer_), &loop::on_close);
  if (signals_on_) {
    uv_close(as_handle(&sigint_), &loop::on_close);
    uv_close(as_handle(&sigterm_), &loop::on_close);
  }
}

void loop::on_close(uv_handle_t* h) {
  --static_cast<loop*>(h->data)->open_handles_;
}

void loop::shutdown_inline() {
  if (!actors_stopped_) {
    stop_all_actors();
  }
  if (!closing_) {
    close_handles();
  }
  while (open_handles_ > 0) {
    uv_run(uv_, UV_RUN_NOWAIT);
  }
}

void loop::drain_after_close() {
  inbound_item item;
  while (inbound_.try_dequeue(item)) {
    envelope& e = from_inbound(item);
    if (e.kind == envelope_kind::message) {
      core_.dead_letter(e);
      if (e.mode != reply_mode::none) {
        reply_error(e, errc::system_stopped, "the system is shutting down");
      }
    }
    e.reset();
  }
  // Actors spawned while the system was stopping never started.
  for (std::uint32_t i = 0; i < slots_used_; ++i) {
    std::unique_ptr<actor> a(slot_at(i).ptr.exchange(nullptr));
  }
}

loop_metrics loop::snapshot() const {
  loop_metrics m;
  m.messages = messages_.load(std::memory_order_relaxed);
  m.wakeups = wakeups_.load(std::memory_order_relaxed);
  m.actors = actors_.load(std::memory_order_relaxed);
  m.inbound_depth = inbound_.size_approx();
  m.timers = timers_count_.load(std::memory_order_relaxed);
  m.timer_ticks_skipped = timers_skipped_.load(std::memory_order_relaxed);
  m.spin_hits = spin_hits_.load(std::memory_order_relaxed);
  m.spin_misses = spin_misses_.load(std::memory_order_relaxed);
  m.spin_preemptions = spin_preemptions_.load(std::memory_order_relaxed);
  return m;
}

}  // namespace courier::detail
