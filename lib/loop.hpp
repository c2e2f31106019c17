#pragma once

// One thread, one uv_loop_t, its actors, a lock-free inbound queue for
// messages from other threads, and one uv_async_t to wake it. Actors are
// run round-robin from a ready list, each for at most `throughput`
// messages per turn.

#include "courier/actor_ref.hpp"
#include "courier/detail/envelope.hpp"
#include "courier/error.hpp"
#include "courier/metrics.hpp"

#include "inbound_item.hpp"
#include "pending_asks.hpp"
#include "spin_policy.hpp"
#include "timers.hpp"

#include <concurrentqueue/concurrentqueue.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace courier {
class actor;
}

namespace courier::detail {

class system_core;
class stop_watcher;

/// Work that a loop runs once at the end of its current turn, after every
/// ready actor has run (see loop::at_turn_end). The HTTP edge flushes its
/// SSE streams there, so that everything the actors queued for a socket in
/// one turn leaves in one write.
class turn_end_hook {
 public:
  virtual void at_turn_end() = 0;

 protected:
  turn_end_hook() = default;
  turn_end_hook(const turn_end_hook&) = delete;
  turn_end_hook& operator=(const turn_end_hook&) = delete;
  ~turn_end_hook() = default;

 private:
  friend class loop;
  bool queued_ = false;
};

class loop {
 public:
  loop(system_core& core, std::uint16_t index, uv_loop_t* external);
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;
  ~loop();

  std::uint16_t index() const noexcept { return index_; }
  system_core& core() const noexcept { return core_; }
  uv_loop_t* uv() const noexcept { return uv_; }

  /// Starts the loop's thread (owned loops only).
  void start_thread();
  /// Joins the loop's thread after close().
  void join();

  /// Adds a constructed actor to the slot table. Thread safety: any thread.
  actor_ref add(std::unique_ptr<actor> a);

  /// Delivers `e` to its target on this loop. Thread safety: this loop.
  void post_local(envelope&& e);
  /// Queues `e` from another thread (`from`: the sender's loop, if any).
  void enqueue(envelope&& e, loop* from);

  /// Registers an ask by the running actor; returns the request id.
  std::uint64_t add_request(pending_asks::continuation&& cont,
                            std::chrono::milliseconds timeout);

  /// Actor timers (see timers.hpp). Thread safety: this loop.
  std::uint64_t add_timer(actor& owner, std::string_view key,
                          std::uint64_t delay_ms, std::uint64_t period_ms,
                          std::unique_ptr<timer_action> action);
  bool cancel_timer(std::uint64_t id);
  bool timer_active(std::uint64_t id) noexcept {
    return timers_.find(id) != nullptr;
  }
  /// True while a tick of timer `id` waits in its owner's mailbox.
  bool timer_tick_queued(std::uint64_t id) noexcept {
    timer_table::record* r = timers_.find(id);
    return r != nullptr && r->queued;
  }
  std::uint64_t keyed_timer(actor& owner, std::string_view key) const {
    return timers_.find_key(&owner, key);
  }
  void cancel_timers_of(actor& owner);

  /// Makes `a` the running actor while it lives, for code of `a` that runs
  /// in a uv callback rather than in a handler (so that it may ask, start
  /// timers, ...). Thread safety: this loop.
  class actor_scope {
   public:
    actor_scope(loop& l, actor& a) noexcept
        : loop_(l), saved_(l.running_), saved_request_(l.current_) {
      l.running_ = &a;
      l.current_ = nullptr;
    }
    actor_scope(const actor_scope&) = delete;
    actor_scope& operator=(const actor_scope&) = delete;
    ~actor_scope() {
      loop_.running_ = saved_;
      loop_.current_ = saved_request_;
    }

   private:
    loop& loop_;
    actor* saved_;
    envelope* saved_request_;
  };

  /// The live actor of `ref` on this loop, or null. Thread safety: this
  /// loop.
  actor* local_actor(actor_ref ref) const noexcept;

  /// Runs `h` once, when the loop's current turn ends (after the ready
  /// actors ran), or at the start of the next turn if called outside one.
  /// A hook that registers again runs again before the loop may sleep.
  /// Thread safety: this loop. The hook's owner must call
  /// cancel_turn_end() before it dies.
  void at_turn_end(turn_end_hook& h);
  void cancel_turn_end(turn_end_hook& h) noexcept;

  /// Stop watchers (see event_feed.hpp). Thread safety: this loop.
  void add_watcher(stop_watcher* w) { watchers_.push_back(w); }
  void remove_watcher(stop_watcher* w) noexcept;
  void watch(actor& a) noexcept;
  /// True once the system stops every actor (shutdown).
  bool stopping_all() const noexcept {
    return actors_stopped_ || stop_requested_.load(std::memory_order_relaxed);
  }

  /// The request being handled right now, or null.
  envelope* current_request() const noexcept { return current_; }
  /// The actor whose code runs right now, or null.
  actor* current_actor() const noexcept { return running_; }

  /// Commands from the system (any thread).
  void request_stop_actors() noexcept;
  void request_close() noexcept;
  void request_signals() noexcept;
  /// Installs the SIGINT/SIGTERM handlers. Thread safety: this loop.
  void install_signals();
  /// Makes the application's uv_run return (application-owned loop).
  void request_uv_stop() noexcept;

  /// Runs the shutdown phases inline (application-owned loop, own thread).
  void shutdown_inline();

  /// Destroys what is still queued after the thread ended (dead letters).
  void drain_after_close();
  /// Drops the producer tokens into other loops' queues.
  void drop_tokens() noexcept { tokens_.clear(); }

  loop_metrics snapshot() const;

  /// The loop of the calling thread, or null.
  static loop* current() noexcept;

 private:
  struct slot {
    std::atomic<actor*> ptr{nullptr};
    std::atomic<std::uint32_t> generation{1};
    std::uint32_t next_free = 0;
  };
  static constexpr std::uint32_t chunk_bits = 12;
  static constexpr std::uint32_t chunk_size = 1u << chunk_bits;
  static constexpr std::uint32_t max_chunks = 16384;
  static constexpr std::uint32_t npos = 0xFFFFFFFFu;

  slot* find_slot(std::uint32_t index) const noexcept;
  slot& slot_at(std::uint32_t index) const noexcept;  // index < slots_used_
  actor* resolve(actor_ref ref) const noexcept;
  void release_slot(std::uint32_t index) noexcept;

  void init_handles();
  void run_thread();
  void process();
  bool drain_inbound(std::size_t max);
  void run_ready();
  void run_actor(actor& a);
  void dispatch(actor& a, envelope& e);
  void handle_message(actor& a, envelope& e);
  void run_timer(actor& a, envelope& e);
  void start_actor(actor& a);
  void begin(actor& a);
  void deliver_reply(envelope& e);
  void fail(actor& a, envelope* e, const char* what);
  void finalize(actor& a);
  void stop_all_actors();
  void close_handles();
  void schedule(actor& a);
  void arm_timer();
  void publish_timer_counts() noexcept {
    timers_count_.store(timers_.size(), std::memory_order_relaxed);
    timers_skipped_.store(timers_.skipped(), std::memory_order_relaxed);
  }
  void on_timer_due();
  void dead_letter(envelope& e, errc reason);
  void run_turn_end();
  void maybe_sleep();
  bool spin_for_work();
  bool has_pending_work() const noexcept {
    return inbound_.size_approx() > 0 ||
           has_starts_.load(std::memory_order_relaxed);
  }
  bool take_starts();
  void wake_if_sleeping() noexcept;

  static void on_async(uv_async_t* h);
  static void on_prepare(uv_prepare_t* h);
  static void on_idle(uv_idle_t* h);
  static void on_timer(uv_timer_t* h);
  static void on_signal(uv_signal_t* h, int signum);
  static void on_close(uv_handle_t* h);

  system_core& core_;
  const std::uint16_t index_;
  uv_loop_t own_loop_{};
  uv_loop_t* uv_;
  const bool external_;
  std::thread thread_;

  uv_async_t async_{};
  uv_prepare_t prepare_{};
  uv_idle_t idle_{};
  uv_timer_t timer_{};  // the ask deadlines and the actor timers
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  int open_handles_ = 0;
  bool signals_on_ = false;
  bool closing_ = false;

  // Cross-thread inbox and the wake-up protocol.
  moodycamel::ConcurrentQueue<inbound_item> inbound_;
  std::unique_ptr<moodycamel::ConsumerToken> consumer_;
  std::vector<std::unique_ptr<moodycamel::ProducerToken>> tokens_;
  std::unique_ptr<inbound_item[]> bulk_;
  enum : int { awake, sleeping };
  std::atomic<int> sleep_state_{awake};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> close_requested_{false};
  std::atomic<bool> signals_requested_{false};
  std::atomic<bool> uv_stop_requested_{false};
  bool actors_stopped_ = false;
  bool did_work_ = false;
  spin_policy spin_;

  // The slot table: chunks of slots, published once, never moved.
  std::unique_ptr<std::atomic<slot*>[]> chunks_;
  std::mutex table_mutex_;
  std::uint32_t free_head_ = npos;
  std::uint32_t slots_used_ = 0;
  // Actors spawned from other threads, waiting for their first turn.
  std::vector<actor*> to_start_;
  std::vector<actor*> starting_;
  std::atomic<bool> has_starts_{false};

  // Loop-thread state.
  actor* ready_head_ = nullptr;
  actor* ready_tail_ = nullptr;
  bool in_process_ = false;
  actor* running_ = nullptr;
  envelope* current_ = nullptr;
  pending_asks asks_;
  timer_table timers_;
  std::vector<stop_watcher*> watchers_;
  std::vector<turn_end_hook*> turn_end_;
  std::vector<turn_end_hook*> turn_end_running_;
  std::uint64_t timer_due_ = 0;

  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<std::uint64_t> actors_{0};
  std::atomic<std::uint64_t> timers_count_{0};
  std::atomic<std::uint64_t> timers_skipped_{0};
  std::atomic<std::uint64_t> spin_hits_{0};
  std::atomic<std::uint64_t> spin_misses_{0};
  std::atomic<std::uint64_t> spin_preemptions_{0};
};

}  // namespace courier::detail
