#include "loop.hpp"

#include "courier/actor.hpp"

#include "actor_access.hpp"
#include "event_feed.hpp"
#include "loop_internal.hpp"
#include "mailbox_impl.hpp"
#include "registry.hpp"
#include "system_core.hpp"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <utility>

namespace courier::detail {

namespace {

thread_local loop* this_loop = nullptr;

// A write to a socket the peer closed then fails with EPIPE instead of
// raising SIGPIPE, whose default action ends the process. Blocked, the
// thread-directed signal just stays pending on the loop's thread.
void block_sigpipe() noexcept {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

constexpr std::size_t bulk_size = 256;
// Inbound messages taken per round, so actors and I/O get their turn.
constexpr std::size_t drain_per_round = 4 * bulk_size;
// Rounds per loop iteration before yielding to libuv (timers, I/O).
constexpr int rounds_per_iteration = 64;

void check_uv(int rc, const char* what) {
  if (rc != 0) {
    throw std::runtime_error(std::string(what) + ": " + uv_strerror(rc));
  }
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

loop* loop::current() noexcept {
  return this_loop;
}

namespace {

// A message no system can take: answer a request, drop the rest.
void unroutable(envelope& e, errc why) noexcept {
  if (e.mode != reply_mode::none) {
    reply_error(e, why,
                why == errc::target_dead ? "no such actor"
                                         : "no such actor system (stopped)");
  }
  e.reset();
}

}  // namespace

// Here rather than in post.cpp so that the same-loop path inlines.
void post(envelope&& e) noexcept {
  std::uint16_t sys = system_core::system_of(e.target);
  loop* here = this_loop;
  if (here != nullptr && here->core().id() == sys) {
    if (e.target.loop() == here->index()) {
      here->post_local(std::move(e));
      return;
    }
    if (e.target.loop() < here->core().loop_count()) {
      here->core().loop_at(e.target.loop()).enqueue(std::move(e), here);
      return;
    }
    here->core().dead_letter(e);
    unroutable(e, errc::target_dead);
    return;
  }
  if (!e.target.valid()) {
    unroutable(e, errc::target_dead);
    return;
  }
  registry::guard g(sys);
  system_core* core = g.get();
  if (core == nullptr) {
    unroutable(e, errc::system_stopped);
    return;
  }
  if (e.target.loop() >= core->loop_count()) {
    core->dead_letter(e);
    unroutable(e, errc::target_dead);
    return;
  }
  core->loop_at(e.target.loop()).enqueue(std::move(e), nullptr);
}

loop::loop(system_core& core, std::uint16_t index, uv_loop_t* external)
    : core_(core),
      index_(index),
      uv_(external != nullptr ? external : &own_loop_),
      external_(external != nullptr),
      bulk_(new inbound_item[bulk_size]),
      spin_(core.config().spin),
      chunks_(new std::atomic<slot*>[max_chunks]) {
  for (std::uint32_t i = 0; i < max_chunks; ++i) {
    chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
  if (!external_) {
    check_uv(uv_loop_init(&own_loop_), "uv_loop_init");
  }
  consumer_ = std::make_unique<moodycamel::ConsumerToken>(inbound_);
  init_handles();
  if (external_) {
    block_sigpipe();  // the application's thread drives this loop
    this_loop = this;
  }
}

loop::~loop() {
  for (std::uint32_t i = 0; i < max_chunks; ++i) {
    delete[] chunks_[i].load(std::memory_order_relaxed);
  }
  if (!external_) {
    uv_loop_close(&own_loop_);
  }
  if (this_loop == this) {
    this_loop = nullptr;
  }
}

void loop::init_handles() {
  check_uv(uv_async_init(uv_, &async_, &loop::on_async), "uv_async_init");
  check_uv(uv_prepare_init(uv_, &prepare_), "uv_prepare_init");
  check_uv(uv_idle_init(uv_, &idle_), "uv_idle_init");
  check_uv(uv_timer_init(uv_, &timer_), "uv_timer_init");
  open_handles_ = 4;
  async_.data = this;
  prepare_.data = this;
  idle_.data = this;
  timer_.data = this;
  check_uv(uv_prepare_start(&prepare_, &loop::on_prepare), "uv_prepare_start");
  uv_unref(as_handle(&prepare_));
  uv_unref(as_handle(&timer_));
}

void loop::start_thread() {
  thread_ = std::thread([this] { run_thread(); });
}

void loop::run_thread() {
  block_sigpipe();
  this_loop = this;
  uv_run(uv_, UV_RUN_DEFAULT);
  this_loop = nullptr;
}

void loop::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

// --- the slot table ---------------------------------------------------------

loop::slot* loop::find_slot(std::uint32_t index) const noexcept {
  std::uint32_t c = index >> chunk_bits;
  if (c >= max_chunks) {
    return nullptr;
  }
  slot* chunk = chunks_[c].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index & (chunk_size - 1)];
}

loop::slot& loop::slot_at(std::uint32_t index) const noexcept {
  return chunks_[index >> chunk_bits].load(
      std::memory_order_acquire)[index & (chunk_size - 1)];
}

actor* loop::resolve(actor_ref ref) const noexcept {
  slot* s = find_slot(system_core::slot_of(ref));
  if (s == nullptr || s->generation.load(std::memory_order_acquire) !=
                          system_core::generation_of(ref)) {
    return nullptr;
  }
  return s->ptr.load(std::memory_order_acquire);
}

// --- sending ----------------------------------------------------------------

void loop::post_local(envelope&& e) {
  actor* a = resolve(e.target);
  if (a == nullptr || acc::state(*a) == dead) {
    dead_letter(e, errc::target_dead);
    return;
  }
  acc::box(*a).push(std::move(e));
  schedule(*a);
}

void loop::schedule(actor& a) {
  // While stop_all_actors() finalizes everyone, on_stop hooks may message
  // actors of this loop: their mailboxes are drained by their own
  // finalize, and linking them would leave the ready list pointing at
  // actors about to be deleted.
  if (acc::scheduled(a) || actors_stopped_) {
    return;
  }
  acc::scheduled(a) = true;
  acc::next_ready(a) = nullptr;
  if (ready_tail_ != nullptr) {
    acc::next_ready(*ready_tail_) = &a;
  } else {
    ready_head_ = &a;
  }
  ready_tail_ = &a;
  if (!in_process_ && !closing_) {
    uv_idle_start(&idle_, &loop::on_idle);
  }
}

void loop::enqueue(envelope&& e, loop* from) {
  if (from != nullptr) {
    if (from->tokens_.size() <= index_) {
      from->tokens_.resize(core_.loop_count());
    }
    auto& token = from->tokens_[index_];
    if (!token) {
      token = std::make_unique<moodycamel::ProducerToken>(inbound_);
    }
    inbound_.enqueue(*token, to_inbound(std::move(e)));
  } else {
    inbound_.enqueue(to_inbound(std::move(e)));
  }
  wake_if_sleeping();
}

void loop::wake_if_sleeping() noexcept {
  // Pairs with the fence in maybe_sleep(): either the loop sees the work
  // before it sleeps, or we see that it sleeps and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleep_state_.load(std::memory_order_relaxed) == sleeping &&
      sleep_state_.exchange(awake, std::memory_order_acq_rel) == sleeping) {
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    uv_async_send(&async_);
  }
}

void loop::dead_letter(envelope& e, errc reason) {
  if (e.kind == envelope_kind::reply) {
    // The asker stopped before its answer came.
    core_.late_replies.fetch_add(1, std::memory_order_relaxed);
    e.reset();
    return;
  }
  if (e.kind != envelope_kind::message) {
    e.reset();
    return;
  }
  core_.dead_letter(e);
  if (e.mode != reply_mode::none) {
    reply_error(e, reason,
                reason == errc::system_stopped
                    ? "the system is shutting down"
                    : "the target actor is not alive");
  }
  e.reset();
}

// --- running actors ---------------------------------------------------------

void loop::process() {
  if (stop_requested_.load(std::memory_order_acquire) && !actors_stopped_) {
    stop_all_actors();
  }
  if (close_requested_.load(std::memory_order_acquire) && !closing_) {
    close_handles();
    return;
  }
  if (signals_requested_.exchange(false)) {
    install_signals();
  }
  in_process_ = true;
  for (int round = 0; round < rounds_per_iteration; ++round) {
    if (stop_requested_.load(std::memory_order_relaxed)) {
      break;
    }
    bool got = take_starts();
    bool inbound = drain_inbound(drain_per_round);
    got = inbound || got;
    if (ready_head_ == nullptr) {
      if (!got) {
        break;
      }
      continue;
    }
    // Only messages from other threads make the loop spin before it
    // sleeps: more of them may follow at once. Work that came from this
    // loop's own I/O or timers predicts nothing of the kind.
    did_work_ = did_work_ || inbound;
    run_ready();
  }
  run_turn_end();
  in_process_ = false;
}

bool loop::drain_inbound(std::size_t max) {
  bool got = false;
  while (max > 0) {
    std::size_t want = std::min(max, bulk_size);
    std::size_t n = inbound_.try_dequeue_bulk(*consumer_, bulk_.get(), want);
    if (n == 0) {
      break;
    }
    got = true;
    max -= n;
    for (std::size_t i = 0; i < n; ++i) {
      post_local(std::move(from_inbound(bulk_[i])));
    }
    if (n < want) {
      // The queue held no more a moment ago. Asking again at once would
      // mostly take one or two messages, each take touching the lines the
      // producers write (the cost of a cross-thread send is in those
      // lines): handle these first.
      break;
    }
  }
  return got;
}

void loop::run_ready() {
  actor* a = ready_head_;
  ready_head_ = nullptr;
  ready_tail_ = nullptr;
  while (a != nullptr) {
    actor* next = acc::next_ready(*a);
    run_actor(*a);
    a = next;
  }
}

void loop::run_actor(actor& a) {
  mailbox& box = acc::box(a);
  std::uint32_t budget = core_.config().throughput;
  std::uint64_t handled = 0;
  running_ = &a;
  if (acc::state(a) == created) {
    begin(a);
  }
  // After a stop request only the message in hand finishes.
  while (budget-- > 0 && !box.empty() && acc::state(a) == running &&
         !stop_requested_.load(std::memory_order_relaxed)) {
    envelope e;
    box.pop(e);
    e.target = acc::self(a);
    dispatch(a, e);
    ++handled;
  }
  running_ = nullptr;
  messages_.store(messages_.load(std::memory_order_relaxed) + handled,
                  std::memory_order_relaxed);
  if (acc::state(a) == stopping) {
    finalize(a);
    return;
  }
  acc::scheduled(a) = false;
  if (!box.empty()) {
    schedule(a);
  } else {
    box.shrink();
  }
}

void loop::start_actor(actor& a) {
  acc::state(a) = running;
  acc::current(a) = acc::make_behavior(a);
  acc::on_start(a);
}

void loop::begin(actor& a) {
  try {
    start_actor(a);
  } catch (const std::exception& ex) {
    fail(a, nullptr, ex.what());
  } catch (...) {
    fail(a, nullptr, "unknown exception");
  }
}

void loop::dispatch(actor& a, envelope& e) {
  current_ = &e;
  try {
    switch (e.kind) {
      case envelope_kind::message:
        handle_message(a, e);
        break;
      case envelope_kind::timer:
        run_timer(a, e);
        break;
      case envelope_kind::event: {
        // The feed is on this loop; it skips events of ended
        // subscriptions and refills the subscriber's window.
        actor* feed = resolve(e.reply_to);
        if (feed != nullptr && acc::state(*feed) != dead &&
            static_cast<event_feed*>(feed)->accept_event(e.request_id)) {
          handle_message(a, e);
        }
        break;
      }
      case envelope_kind::reply:
        deliver_reply(e);
        break;
      case envelope_kind::stop:
        acc::state(a) = stopping;
        break;
    }
  } catch (const std::exception& ex) {
    fail(a, &e, ex.what());
  } catch (...) {
    fail(a, &e, "unknown exception");
  }
  current_ = nullptr;
}

void loop::handle_message(actor& a, envelope& e) {
  if (!acc::current(a).invoke(e)) {
    core_.unhandled(acc::self(a), e.type());
    if (e.mode != reply_mode::none) {
      reply_error(e, errc::no_handler,
                  std::string("no handler for ") + std::string(e.type()->name));
    }
  }
}

void loop::fail(actor& a, envelope* e, const char* what) {
  if (e != nullptr && e->mode != reply_mode::none) {
    reply_error(*e, errc::handler_threw, what);
  }
  core_.failure(acc::self(a), what);
  acc::state(a) = stopping;
}

void loop::finalize(actor& a) {
  std::uint8_t was = acc::state(a);
  acc::state(a) = dead;
  if (was != created) {
    running_ = &a;
    try {
      acc::on_stop(a);
    } catch (const std::exception& ex) {
      core_.failure(acc::self(a), ex.what());
    } catch (...) {
      core_.failure(acc::self(a), "unknown exception in on_stop");
    }
    running_ = nullptr;
  }
  // No timer outlives its actor, and no tick of one is ever handled.
  if (acc::timers(a) != timer_table::npos) {
    timers_.erase_all(acc::timers(a));
    publish_timer_counts();
  }
  if (acc::watched(a)) {
    actor_ref who = acc::self(a);
    // A watcher may remove itself (or others) while hearing of a stop.
    std::vector<stop_watcher*> now = watchers_;
    for (stop_watcher* w : now) {
      if (std::find(watchers_.begin(), watchers_.end(), w) != watchers_.end()) {
        w->actor_stopped(who);
      }
    }
  }
  errc reason = actors_stopped_ || stop_requested_.load() ? errc::system_stopped
                                                          : errc::target_dead;
  mailbox& box = acc::box(a);
  while (!box.empty()) {
    envelope e;
    box.pop(e);
    e.target = acc::self(a);
    dead_letter(e, reason);
  }
  release_slot(system_core::slot_of(acc::self(a)));
  core_.stopped.fetch_add(1, std::memory_order_relaxed);
  actors_.fetch_sub(1, std::memory_order_relaxed);
  std::unique_ptr<actor> owned(&a);
}

void loop::stop_all_actors() {
  actors_stopped_ = true;
  while (ready_head_ != nullptr) {
    actor* a = ready_head_;
    ready_head_ = acc::next_ready(*a);
    acc::scheduled(*a) = false;
  }
  ready_tail_ = nullptr;
  {
    std::lock_guard<std::mutex> lock(table_mutex_);
    to_start_.clear();
    has_starts_.store(false);
  }
  drain_inbound(static_cast<std::size_t>(-1));
  std::uint32_t used;
  {
    std::lock_guard<std::mutex> lock(table_mutex_);
    used = slots_used_;
  }
  for (std::uint32_t i = 0; i < used; ++i) {
    actor* a = slot_at(i).ptr.load(std::memory_order_acquire);
    if (a != nullptr && acc::state(*a) != dead) {
      finalize(*a);
    }
  }
  // Messages the on_stop hooks sent to this loop.
  drain_inbound(static_cast<std::size_t>(-1));
  // Every actor is gone; the ready list may still name some of them.
  ready_head_ = nullptr;
  ready_tail_ = nullptr;
  asks_.clear();
  timers_.clear();
  uv_timer_stop(&timer_);
  timer_due_ = 0;
  core_.loop_stopped();
}

// --- the end of a turn ------------------------------------------------------

void loop::at_turn_end(turn_end_hook& h) {
  if (h.queued_ || closing_) {
    return;
  }
  turn_end_.push_back(&h);
  h.queued_ = true;
  if (!in_process_) {
    // Outside a turn (a uv callback): the next turn must come before the
    // loop blocks in poll. It does (the prepare phase runs first), but the
    // idle handle makes sure poll does not wait if this came after it.
    uv_idle_start(&idle_, &loop::on_idle);
  }
}

void loop::cancel_turn_end(turn_end_hook& h) noexcept {
  if (h.queued_) {
    std::erase(turn_end_, &h);
    h.queued_ = false;
  }
  std::replace(turn_end_running_.begin(), turn_end_running_.end(), &h,
               static_cast<turn_end_hook*>(nullptr));
}

void loop::run_turn_end() {
  // Hooks that register again (a drained stream that queued more) run
  // again, a bounded number of times; what is left runs next turn.
  for (int pass = 0; pass < 8 && !turn_end_.empty() && !closing_; ++pass) {
    turn_end_running_.swap(turn_end_);
    for (turn_end_hook*& h : turn_end_running_) {
      if (h != nullptr) {
        turn_end_hook* hook = h;
        hook->queued_ = false;
        // Hooks contain their own failures; this is the last resort, so
        // that nothing unwinds through libuv.
        try {
          hook->at_turn_end();
        } catch (const std::exception& ex) {
          core_.failure(actor_ref{}, ex.what());
        } catch (...) {
          core_.failure(actor_ref{}, "unknown exception at a turn's end");
        }
      }
    }
    turn_end_running_.clear();
  }
  if (!turn_end_.empty()) {
    uv_idle_start(&idle_, &loop::on_idle);
  }
}

// --- sleeping and waking ----------------------------------------------------

bool loop::spin_for_work() {
  if (!did_work_) {
    return false;
  }
  did_work_ = false;
  using clock = spin_policy::clock;
  clock::time_point start = clock::now();
  spin_policy::duration budget = spin_.budget(start);
  if (budget <= spin_policy::duration::zero()) {
    return false;
  }
  clock::time_point deadline = start + budget;
  clock::time_point last = start;
  // I/O that became ready ends the spin: sockets are served in libuv's
  // poll phase, which a spin would otherwise hold back (an HTTP edge lost
  // a quarter of its requests per second to it).
  pollfd backend{uv_backend_fd(uv_), POLLIN, 0};
  bool found = false;
  for (unsigned i = 0;; ++i) {
    if (has_pending_work()) {
      spin_.hit();
      found = true;
      break;
    }
    if ((i & 63) == 63) {
      if (backend.fd >= 0 && ::poll(&backend, 1, 0) > 0) {
        spin_.io();
        break;
      }
      clock::time_point now = clock::now();
      if (now - last > spin_policy::preempted_gap) {
        spin_.preempted(now);
        break;
      }
      last = now;
      if (now >= deadline) {
        spin_.miss();
        break;
      }
    }
    cpu_relax();
  }
  spin_hits_.store(spin_.hits(), std::memory_order_relaxed);
  spin_misses_.store(spin_.misses(), std::memory_order_relaxed);
  spin_preemptions_.store(spin_.preemptions(), std::memory_order_relaxed);
  return found;
}

void loop::maybe_sleep() {
  for (;;) {
    if (closing_) {
      return;
    }
    if (ready_head_ != nullptr || !turn_end_.empty()) {
      uv_idle_start(&idle_, &loop::on_idle);
      return;
    }
    if (spin_for_work()) {
      process();
      continue;
    }
    sleep_state_.store(sleeping, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!has_pending_work()) {
      uv_idle_stop(&idle_);
      return;
    }
    sleep_state_.store(awake, std::memory_order_relaxed);
    process();
  }
}

void loop::on_async(uv_async_t* h) {
  static_cast<loop*>(h->data)->sleep_state_.store(awake,
                                                  std::memory_order_relaxed);
}

void loop::on_idle(uv_idle_t* /*h*/) {}

void loop::on_prepare(uv_prepare_t* h) {
  auto* self = static_cast<loop*>(h->data);
  if (self->closing_) {
    return;
  }
  self->sleep_state_.store(awake, std::memory_order_relaxed);
  if (self->uv_stop_requested_.exchange(false)) {
    uv_stop(self->uv_);
  }
  uv_update_time(self->uv_);
  self->process();
  self->maybe_sleep();
}

void loop::on_timer(uv_timer_t* h) {
  static_cast<loop*>(h->data)->on_timer_due();
}

void loop::on_signal(uv_signal_t* h, int /*signum*/) {
  static_cast<loop*>(h->data)->core_.request_shutdown();
}

}  // namespace courier::detail
