// The topic router: one router actor keeps the log (sequence numbers,
// history), the subscription index and a cache of subject -> targets; one
// shard actor per loop delivers to the subscribers of its loop, with each
// subscription's bound and overflow policy. The router sends a shard one
// message per event (the record and the shared list of that loop's
// subscriptions), so fan-out work spreads over the loops.

#include "courier/actor.hpp"
#include "courier/pubsub.hpp"
#include "courier/system.hpp"

#include "event_feed.hpp"
#include "loop.hpp"
#include "subject_trie.hpp"
#include "system_core.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace courier::detail {

namespace {

using subscriber_list = std::shared_ptr<const std::vector<std::uint64_t>>;

// --- router -> shard messages
// -------------------------------------------------

// A subscription's place in its shard: slot index (low 32 bits) and the
// slot's generation (high 32 bits), given out by the router. It travels in
// the subscriber lists and in each event envelope, so that delivery finds
// the subscription by indexing, and a stale token (a slot reused since)
// finds nothing.
struct shard_add {
  std::uint64_t token = 0;
  subscribe_message sub;
  std::optional<subscription_gap> gap;
  std::vector<event_ptr> replay;
};
struct shard_remove {
  std::uint64_t token = 0;
};
struct shard_event {
  event_ptr record;
  subscriber_list subscribers;
};
struct shard_stats_request {};
struct shard_stats {
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  std::vector<subscription_stats> subscriptions;
  std::vector<std::pair<std::string, std::uint64_t>> dropped_by_subject;
};

std::uint64_t steady_now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// --- the shard
// ----------------------------------------------------------------

class router_shard final : public event_feed, public stop_watcher {
 public:
  explicit router_shard(actor_ref router) : router_(router) {}

  bool accept_event(std::uint64_t token) noexcept override {
    sub* found = find(token);
    if (found == nullptr) {
      return false;
    }
    sub& s = *found;
    --s.in_mailbox;
    ++s.delivered;
    ++delivered_;
    refill(s);
    return true;
  }

  void actor_stopped(actor_ref who) noexcept override {
    auto it = by_actor_.find(who);
    if (it == by_actor_.end()) {
      return;
    }
    std::vector<std::uint64_t> tokens = std::move(it->second);
    by_actor_.erase(it);
    bool tell_router = !loop::current()->stopping_all();
    for (std::uint64_t token : tokens) {
      sub* s = find(token);
      if (s == nullptr) {
        continue;
      }
      std::uint64_t id = s->id;
      *s = sub{};
      if (tell_router) {
        router_.tell(unsubscribe_message{id});
      }
    }
  }

 protected:
  courier::behavior behavior() override {
    return {
        [this](shard_event& m) {
          for (std::uint64_t token : *m.subscribers) {
            if (sub* s = find(token)) {
              offer(*s, m.record);
            }
          }
        },
        [this](shard_add& m) { add(m); },
        [this](const shard_remove& m) { remove(m.token); },
        [this](shard_stats_request) { return stats(); },
    };
  }

  void on_start() override { loop::current()->add_watcher(this); }
  void on_stop() override { loop::current()->remove_watcher(this); }

 private:
  struct sub {
    std::uint64_t token = 0;  // 0: a free slot
    std::uint64_t id = 0;
    std::string pattern;
    actor_ref subscriber;
    type_id filter = nullptr;
    make_event_message make = nullptr;
    overflow_policy policy = overflow_policy::drop_oldest;
    std::size_t bound = 1;
    std::size_t window = 1;  // at most this many in the mailbox at once
    std::size_t in_mailbox = 0;
    std::deque<event_ptr> waiting;
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
    std::uint64_t skipped = 0;
  };

  sub* find(std::uint64_t token) noexcept {
    auto slot = static_cast<std::uint32_t>(token);
    if (slot >= slots_.size() || slots_[slot].token != token || token == 0) {
      return nullptr;
    }
    return &slots_[slot];
  }

  void add(shard_add& m) {
    const subscribe_message& req = m.sub;
    actor* target = loop::current()->local_actor(req.subscriber);
    if (target == nullptr) {
      router_.tell(unsubscribe_message{req.id});
      return;
    }
    loop::current()->watch(*target);
    auto slot = static_cast<std::uint32_t>(m.token);
    if (slot >= slots_.size()) {
      slots_.resize(slot + 1);
    }
    if (slots_[slot].token != 0) {
      remove(slots_[slot].token);  // the router reused it: the old one ended
    }
    sub& s = slots_[slot];
    s.token = m.token;
    s.id = req.id;
    s.pattern = req.pattern;
    s.subscriber = req.subscriber;
    s.filter = req.filter;
    s.make = req.make;
    s.policy = req.options.on_overflow;
    s.bound = std::max<std::size_t>(req.options.max_in_flight, 1);
    s.window = std::clamp<std::size_t>(s.bound / 2, 1, 32);
    by_actor_[req.subscriber].push_back(m.token);
    if (m.gap) {
      req.subscriber.tell(std::move(*m.gap));
    }
    for (const event_ptr& rec : m.replay) {
      sub* live = find(m.token);
      if (live == nullptr) {
        break;  // cancelled by its policy during the replay
      }
      offer(*live, rec);
    }
  }

  void remove(std::uint64_t token) {
    sub* s = find(token);
    if (s == nullptr) {
      return;
    }
    auto owner = by_actor_.find(s->subscriber);
    if (owner != by_actor_.end()) {
      std::erase(owner->second, token);
      if (owner->second.empty()) {
        by_actor_.erase(owner);
      }
    }
    *s = sub{};
  }

  void offer(sub& s, const event_ptr& rec) {
    if (s.filter != nullptr && rec->type != s.filter) {
      ++s.skipped;
      return;
    }
    if (s.waiting.empty() && s.in_mailbox < s.window) {
      push(s, rec);
      return;
    }
    if (s.in_mailbox + s.waiting.size() < s.bound) {
      s.waiting.push_back(rec);
      return;
    }
    switch (s.policy) {
      case overflow_policy::drop_newest:
        drop(s, *rec);
        break;
      case overflow_policy::drop_oldest:
        if (s.waiting.empty()) {
          drop(s, *rec);  // only events already in the mailbox: keep them
        } else {
          drop(s, *s.waiting.front());
          s.waiting.pop_front();
          s.waiting.push_back(rec);
        }
        break;
      case overflow_policy::cancel:
        cancel(s, *rec);
        break;
    }
  }

  void push(sub& s, const event_ptr& rec) {
    envelope e;
    s.make(e, rec);
    e.kind = envelope_kind::event;
    e.target = s.subscriber;
    e.reply_to = self();
    e.request_id = s.token;
    ++s.in_mailbox;
    post(std::move(e));
  }

  void refill(sub& s) {
    while (s.in_mailbox < s.window && !s.waiting.empty()) {
      event_ptr next = std::move(s.waiting.front());
      s.waiting.pop_front();
      push(s, next);
    }
  }

  void drop(sub& s, const event_record& rec) {
    ++s.dropped;
    ++dropped_;
    ++dropped_by_subject_[rec.subject];
  }

  void cancel(sub& s, const event_record& overflowing) {
    // Everything not handled yet is lost with the subscription.
    drop(s, overflowing);
    for (const event_ptr& w : s.waiting) {
      drop(s, *w);
    }
    s.dropped += s.in_mailbox;
    dropped_ += s.in_mailbox;
    s.subscriber.tell(subscription_cancelled{
        s.id, s.pattern,
        "more than " + std::to_string(s.bound) +
            " events in flight (overflow policy: cancel)"});
    router_.tell(unsubscribe_message{s.id});
    remove(s.token);
  }

  shard_stats stats() const {
    shard_stats out;
    out.delivered = delivered_;
    out.dropped = dropped_;
    for (const sub& s : slots_) {
      if (s.token == 0) {
        continue;
      }
      out.subscriptions.push_back(subscription_stats{
          s.id, s.pattern, s.subscriber, s.policy, s.bound, s.delivered,
          s.dropped, s.skipped, s.in_mailbox + s.waiting.size()});
    }
    out.dropped_by_subject.assign(dropped_by_subject_.begin(),
                                  dropped_by_subject_.end());
    return out;
  }

  actor_ref router_;
  std::vector<sub> slots_;  // indexed by the token's slot
  std::unordered_map<actor_ref, std::vector<std::uint64_t>> by_actor_;
  std::unordered_map<std::string, std::uint64_t> dropped_by_subject_;
  std::uint64_t delivered_ = 0;
  std::uint64_t dropped_ = 0;
};

// --- the router
// ---------------------------------------------------------------

class router_actor final : public actor {
 public:
  router_actor(router_config cfg, std::string epoch)
      : cfg_(std::move(cfg)), epoch_(std::move(epoch)) {
    cfg_.history.max_events = std::max<std::size_t>(cfg_.history.max_events, 1);
  }

 protected:
  courier::behavior behavior() override {
    return {
        [this](publish_message& m) { return publish(std::move(m.record)); },
        [this](subscribe_message& m) { subscribe(m); },
        [this](const unsubscribe_message& m) { unsubscribe(m.id); },
        [this](const fetch_request& m) { return fetch(m); },
        [this](get_router_stats) { collect_stats(); },
    };
  }

  void on_start() override {
    std::size_t loops = system_of(*this).loop_count();
    pools_.resize(loops);
    for (std::size_t i = 0; i < loops; ++i) {
      shards_.push_back(spawn<router_shard>(
          spawn_options{.loop = static_cast<std::uint16_t>(i)}, self()));
    }
    if (cfg_.history.max_age.count() > 0) {
      auto period = std::max<std::chrono::milliseconds>(
          cfg_.history.max_age / 4, std::chrono::milliseconds(10));
      every(period, [this] { evict(); });
    }
  }

  // The shards end with their router.
  void on_stop() override {
    for (actor_ref s : shards_) {
      envelope e;
      e.kind = envelope_kind::stop;
      e.target = s;
      post(std::move(e));
    }
  }

 private:
  struct subscriber_entry {
    std::string pattern;
    actor_ref subscriber;
    std::uint64_t token = 0;  // its slot in its shard
  };
  // The slots of one shard: generations, and the free ones.
  struct slot_pool {
    std::vector<std::uint32_t> generations;
    std::vector<std::uint32_t> free;
  };

  std::uint64_t take_slot(std::uint16_t loop_index) {
    slot_pool& p = pools_[loop_index];
    std::uint32_t slot;
    if (!p.free.empty()) {
      slot = p.free.back();
      p.free.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(p.generations.size());
      p.generations.push_back(0);
    }
    std::uint32_t gen = ++p.generations[slot];
    if (gen == 0) {
      gen = p.generations[slot] = 1;
    }
    return (std::uint64_t{gen} << 32) | slot;
  }
  struct subject_entry {
    std::uint64_t published = 0;
    std::uint64_t routed = 0;
    std::uint64_t generation = ~std::uint64_t{0};  // of `targets`
    std::vector<std::pair<std::uint16_t, subscriber_list>> targets;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  std::uint64_t publish(std::shared_ptr<event_record> rec) {
    rec->seq = ++seq_;
    rec->steady_ms = uv_now(loop::current()->uv());
    ++published_;
    history_bytes_ += rec->bytes;
    event_ptr shared = std::move(rec);
    history_.push_back(shared);
    evict();

    subject_entry* entry = nullptr;
    auto it = subjects_.find(std::string_view(shared->subject));
    if (it != subjects_.end()) {
      entry = &it->second;
    } else if (subjects_.size() < cfg_.max_tracked_subjects) {
      entry = &subjects_[shared->subject];
    }
    if (entry == nullptr) {
      scratch_.targets.clear();
      scratch_.generation = ~std::uint64_t{0};
      entry = &scratch_;
    }
    ++entry->published;
    if (entry->generation != generation_) {
      compute_targets(shared->subject, entry->targets);
      entry->generation = entry == &scratch_ ? ~std::uint64_t{0} : generation_;
    }
    for (const auto& [loop_index, list] : entry->targets) {
      shards_[loop_index].tell(shard_event{shared, list});
      entry->routed += list->size();
    }
    return shared->seq;
  }

  void compute_targets(
      std::string_view subject,
      std::vector<std::pair<std::uint16_t, subscriber_list>>& out) {
    out.clear();
    std::vector<std::vector<std::uint64_t>> by_loop(shards_.size());
    trie_.match(subject, [&](std::uint64_t id) {
      auto it = subscribers_.find(id);
      if (it != subscribers_.end()) {
        by_loop[it->second.subscriber.loop()].push_back(it->second.token);
      }
    });
    for (std::size_t i = 0; i < by_loop.size(); ++i) {
      if (!by_loop[i].empty()) {
        out.emplace_back(static_cast<std::uint16_t>(i),
                         std::make_shared<const std::vector<std::uint64_t>>(
                             std::move(by_loop[i])));
      }
    }
  }

  void subscribe(subscribe_message& m) {
    if (subscribers_.count(m.id) != 0 || !valid_pattern(m.pattern) ||
        system_core::system_of(m.subscriber) != system_of(*this).id() ||
        m.subscriber.loop() >= shards_.size()) {
      return;
    }
    std::uint64_t token = take_slot(m.subscriber.loop());
    subscribers_.emplace(m.id,
                         subscriber_entry{m.pattern, m.subscriber, token});
    trie_.insert(m.pattern, m.id);
    ++generation_;
    shard_add add;
    add.token = token;
    if (m.options.since) {
      std::uint64_t since = *m.options.since;
      std::uint64_t first = first_seq();
      std::uint64_t from = since + 1;
      if (since + 1 < first || since > seq_) {
        add.gap = subscription_gap{m.id, m.pattern, since, first};
        from = first;
      }
      for (std::uint64_t s = from; s <= seq_; ++s) {
        const event_ptr& rec = history_[s - first];
        if (subject_matches(m.pattern, rec->subject)) {
          add.replay.push_back(rec);
        }
      }
    }
    std::uint16_t where = m.subscriber.loop();
    add.sub = std::move(m);
    shards_[where].tell(std::move(add));
  }

  void unsubscribe(std::uint64_t id) {
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) {
      return;
    }
    trie_.erase(it->second.pattern, id);
    std::uint16_t where = it->second.subscriber.loop();
    shards_[where].tell(shard_remove{it->second.token});
    pools_[where].free.push_back(static_cast<std::uint32_t>(it->second.token));
    subscribers_.erase(it);
    ++generation_;
  }

  // The oldest sequence number in history (seq_ + 1 when it is empty).
  std::uint64_t first_seq() const noexcept {
    return history_.empty() ? seq_ + 1 : history_.front()->seq;
  }

  void evict() {
    const history_limits& h = cfg_.history;
    std::uint64_t now = 0;
    if (h.max_age.count() > 0) {
      uv_update_time(loop::current()->uv());
      now = uv_now(loop::current()->uv());
    }
    while (!history_.empty()) {
      const event_record& front = *history_.front();
      bool over = history_.size() > h.max_events ||
                  (h.max_bytes != 0 && history_bytes_ > h.max_bytes) ||
                  (h.max_age.count() > 0 &&
                   now - front.steady_ms >
                       static_cast<std::uint64_t>(h.max_age.count()));
      if (!over) {
        break;
      }
      history_bytes_ -= front.bytes;
      history_.pop_front();
    }
  }

  fetch_result fetch(const fetch_request& m) {
    evict();
    fetch_result out;
    std::uint64_t first = first_seq();
    out.first_available = first;
    out.last = seq_;
    out.reset = m.since + 1 < first || m.since > seq_;
    std::uint64_t from = out.reset ? first : m.since + 1;
    out.next = from - 1;
    if (!valid_pattern(m.pattern)) {
      return out;
    }
    for (std::uint64_t s = from; s <= seq_; ++s) {
      if (out.events.size() >= m.max) {
        break;
      }
      const event_ptr& rec = history_[s - first];
      out.next = s;
      if (subject_matches(m.pattern, rec->subject)) {
        out.events.emplace_back(rec);
      }
    }
    return out;
  }

  // Counters live partly in the shards: ask each, answer when all did.
  void collect_stats() {
    struct gather {
      response_promise<router_stats> promise;
      router_stats stats;
      std::size_t waiting = 0;
      std::unordered_map<std::string, std::uint64_t> dropped;
    };
    auto g = std::make_shared<gather>();
    g->promise = make_response_promise<router_stats>();
    router_stats& st = g->stats;
    st.epoch = epoch_;
    st.published = published_;
    st.history_events = history_.size();
    st.history_bytes = history_bytes_;
    st.first_seq = history_.empty() ? 0 : history_.front()->seq;
    st.last_seq = seq_;
    for (const auto& [subject, e] : subjects_) {
      st.subjects.push_back(subject_stats{subject, e.published, e.routed, 0});
    }
    g->waiting = shards_.size();
    auto finish = [g] {
      if (--g->waiting != 0) {
        return;
      }
      for (auto& s : g->stats.subjects) {
        auto it = g->dropped.find(s.subject);
        if (it != g->dropped.end()) {
          s.dropped = it->second;
        }
      }
      std::sort(g->stats.subjects.begin(), g->stats.subjects.end(),
                [](const subject_stats& a, const subject_stats& b) {
                  return a.subject < b.subject;
                });
      std::sort(g->stats.subscriptions.begin(), g->stats.subscriptions.end(),
                [](const subscription_stats& a, const subscription_stats& b) {
                  return a.id < b.id;
                });
      g->promise.deliver(std::move(g->stats));
    };
    if (shards_.empty()) {
      g->waiting = 1;
      finish();
      return;
    }
    for (actor_ref shard : shards_) {
      ask<shard_stats>(shard, shard_stats_request{})
          .then(
              [g, finish](shard_stats s) {
                g->stats.delivered += s.delivered;
                g->stats.dropped += s.dropped;
                for (auto& sub : s.subscriptions) {
                  g->stats.subscriptions.push_back(std::move(sub));
                }
                for (auto& [subject, n] : s.dropped_by_subject) {
                  g->dropped[subject] += n;
                }
                finish();
              },
              [finish](const ask_error&) { finish(); });
    }
  }

  router_config cfg_;
  std::string epoch_;
  std::vector<actor_ref> shards_;
  std::vector<slot_pool> pools_;  // one per shard
  subject_trie trie_;
  std::unordered_map<std::uint64_t, subscriber_entry> subscribers_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, subject_entry, string_hash, std::equal_to<>>
      subjects_;
  subject_entry scratch_;
  std::deque<event_ptr> history_;
  std::size_t history_bytes_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t published_ = 0;
};

std::string new_epoch() {
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::uint64_t x = (std::uint64_t{rd()} << 32) ^ rd() ^
                    static_cast<std::uint64_t>(steady_now_ms());
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out.push_back(digits[x % 36]);
    x /= 36;
  }
  return out;
}

}  // namespace

}  // namespace courier::detail

namespace courier {

router router::of(system& sys) {
  return named(sys, "default");
}

router router::named(system& sys, std::string_view name, router_config cfg) {
  std::string key = "courier.router." + std::string(name);
  auto made = detail::core_of(sys).extension(key, [&]() {
    auto st = std::make_shared<detail::router_state>();
    st->name.assign(name);
    st->epoch = detail::new_epoch();
    spawn_options where;
    where.loop = cfg.loop;
    st->actor = sys.spawn<detail::router_actor>(where, cfg, st->epoch);
    return std::shared_ptr<void>(st);
  });
  return router(std::static_pointer_cast<detail::router_state>(made));
}

fetch_result router::fetch(std::string_view pattern, std::uint64_t since,
                           std::size_t max, ask_options opts) const {
  check_pattern(pattern);
  return state_->actor
      .ask<fetch_result>(fetch_request{std::string(pattern), since, max}, opts)
      .get();
}

router_stats router::stats(ask_options opts) const {
  return state_->actor.ask<router_stats>(get_router_stats{}, opts).get();
}

void subscription::unsubscribe() const {
  if (id_ != 0) {
    router_.tell(detail::unsubscribe_message{id_});
  }
}

}  // namespace courier
