// Push over HTTP: SSE streams and long polls fed by a router. A push actor
// shares the edge's loop. It holds one router subscription per pattern in
// use (a channel) and fans each event out to the channel's streams and
// waiters there, so an event crosses threads once whatever the number of
// clients, and its SSE frame is encoded once and shared by every stream.
//
// A client that comes with a resume point replays from the router's
// history (fetch) before it goes live. The channel keeps its recent
// events, so the events that arrived while the replay ran are found there
// (or, when they were already evicted, by one more fetch): no gap, and the
// client's cursor (the last sequence number it got) rules out duplicates.

#include "courier/push.hpp"

#include "courier/actor.hpp"
#include "courier/json.hpp"
#include "courier/sse.hpp"
#include "courier/system.hpp"
#include "courier/timer.hpp"

#include "../loop.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace courier::http {

// --- codec
// -------------------------------------------------------------------

push_codec::push_codec() {
  encoders_[courier::detail::type_of<nlohmann::json>()] = [](const void* p) {
    return *static_cast<const nlohmann::json*>(p);
  };
  encoders_[courier::detail::type_of<std::string>()] = [](const void* p) {
    return nlohmann::json(*static_cast<const std::string*>(p));
  };
}

std::optional<nlohmann::json> push_codec::to_json(
    const courier::detail::event_record& rec) const {
  if (rec.type == courier::detail::type_of<nlohmann::json>()) {
    // Checked before it is copied: a copy recurses once per level.
    const auto& j = *static_cast<const nlohmann::json*>(rec.payload());
    if (!json_depth_within(j, max_depth_)) {
      return std::nullopt;
    }
    return j;
  }
  auto it = encoders_.find(rec.type);
  if (it == encoders_.end()) {
    return std::nullopt;
  }
  nlohmann::json j = it->second(rec.payload());
  if (!json_depth_within(j, max_depth_)) {
    return std::nullopt;
  }
  return j;
}

namespace {

std::string dump(const nlohmann::json& j) {
  // Invalid UTF-8 in a string payload is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::optional<std::string> push_codec::to_text(
    const courier::detail::event_record& rec) const {
  if (rec.type == courier::detail::type_of<std::string>()) {
    return *static_cast<const std::string*>(rec.payload());
  }
  if (rec.type == courier::detail::type_of<nlohmann::json>()) {
    const auto& j = *static_cast<const nlohmann::json*>(rec.payload());
    if (!json_depth_within(j, max_depth_)) {
      return std::nullopt;
    }
    return dump(j);  // no copy
  }
  std::optional<nlohmann::json> j = to_json(rec);
  if (!j) {
    return std::nullopt;
  }
  return dump(*j);
}

std::string event_id(std::string_view epoch, std::uint64_t seq) {
  std::string s;
  s.reserve(epoch.size() + 21);
  s += epoch;
  s += '-';
  s += std::to_string(seq);
  return s;
}

bool parse_event_id(std::string_view id, std::string& epoch,
                    std::uint64_t& seq) {
  std::size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) {
    return false;
  }
  std::string_view digits = id.substr(dash + 1);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc{} || end != digits.data() + digits.size()) {
    return false;
  }
  epoch.assign(id.substr(0, dash));
  return epoch.find_first_of("\r\n\0 ", 0, 4) == std::string::npos;
}

namespace impl {

namespace {

using courier::detail::event_ptr;
using ms_t = std::uint64_t;

struct get_push_stats {};
struct drop_push_streams {};
// A publish's 202, sent through the actor's own mailbox (see publish()).
struct publish_answer {
  responder out;
  std::string id;
};
struct stop_feed {};

// A recent event of a channel, with its encodings, built when first
// needed and shared by every client that gets it.
struct recent_event {
  event_ptr rec;
  std::shared_ptr<const std::string> sse;   // the SSE frame
  std::shared_ptr<const std::string> json;  // the long-poll entry
  bool skipped = false;                     // no encoder knows it
};

struct channel;

struct sse_client {
  std::uint64_t id = 0;
  stream out;
  channel* ch = nullptr;
  std::uint64_t cursor = 0;  // the last sequence number it got
  ms_t last_write = 0;
  bool live = false;
  bool gone = false;
  // Replay: fetched events not written yet (the buffer was full).
  std::vector<event_ref> backlog;
  std::size_t backlog_pos = 0;
  std::uint64_t backlog_next = 0;  // the fetch's `next`, once all is out
  bool more = false;               // the last fetch was cut by its max
  bool catching_up = false;        // going live waits for the stream to drain
};

struct waiter {
  std::uint64_t id = 0;
  responder out{nullptr};
  channel* ch = nullptr;
  std::uint64_t cursor = 0;
  std::size_t max = 0;
  bool reset = false;
  bool gone = false;
  bool fetching = false;  // its channel lost track: fetching instead
  timer deadline;
};

struct channel {
  std::uint64_t id = 0;
  std::string pattern;
  subscription sub;
  actor_ref feed;  // the channel's subscriber, on the push actor's loop
  std::deque<recent_event> recent;
  std::uint64_t evicted_max = 0;  // the newest seq no longer in `recent`
  std::uint64_t last_seq = 0;     // the newest seq received
  // Every matching event after covered_from reaches the channel (it was
  // subscribed when the router gave that seq as its last); unknown until
  // a fetch answered. known_last: the router's last seq seen.
  std::uint64_t covered_from = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t known_last = 0;
  std::uint64_t generation = 0;  // of the subscription
  std::vector<sse_client*> live;
  std::vector<waiter*> waiting;
  std::size_t users = 0;  // streams and waiters attached (any state)
  ms_t idle_since = 0;
  bool dirty = false;  // `live` or `waiting` hold gone entries
};

struct poll_params {
  std::string pattern;
  bool from_now = true;
  bool reset = false;  // the resume point is of another epoch
  std::uint64_t since = 0;
  std::chrono::milliseconds timeout{0};
  std::size_t max = 0;
};

// The first recent event of `ch` after `seq`.
std::deque<recent_event>::iterator after_seq(channel& ch, std::uint64_t seq) {
  return std::upper_bound(
      ch.recent.begin(), ch.recent.end(), seq,
      [](std::uint64_t s, const recent_event& e) { return s < e.rec->seq; });
}

// True when the channel alone knows every matching event after `seq`:
// those already in `recent`, and those still to come. Then a client with
// that cursor needs no history fetch.
bool covers(const channel& ch, std::uint64_t seq) {
  return ch.covered_from != std::numeric_limits<std::uint64_t>::max() &&
         seq >= ch.covered_from && seq >= ch.evicted_max &&
         seq <= std::max(ch.known_last, ch.last_seq);
}

// The cursor of a client that starts "from now" on a covered channel.
std::uint64_t now_cursor(const channel& ch) {
  return std::max(ch.known_last, ch.last_seq);
}

// The cursor a new client (stream or poll) starts from without a history
// fetch, or nullopt when the channel cannot tell what it would miss: its
// subscription is not known to be in place yet ("from now"), or the
// resume point is not covered, or it is of another epoch (a reset).
std::optional<std::uint64_t> known_start(const channel& ch, bool from_now,
                                         std::uint64_t since, bool reset) {
  if (reset) {
    return std::nullopt;
  }
  if (from_now) {
    if (ch.covered_from == std::numeric_limits<std::uint64_t>::max()) {
      return std::nullopt;
    }
    return now_cursor(ch);
  }
  if (!covers(ch, since)) {
    return std::nullopt;
  }
  return since;
}

response bad_request(std::string_view message) {
  return response::error(400, message);
}

}  // namespace

class push_actor;

// The subscriber of one channel: it hands the channel's events to the push
// actor (same loop), so that each delivery says which channel it is for.
class channel_feed final : public actor {
 public:
  channel_feed(std::weak_ptr<push_actor*> owner, std::uint64_t channel)
      : owner_(std::move(owner)), channel_(channel) {}

 protected:
  courier::behavior behavior() override;

 private:
  std::weak_ptr<push_actor*> owner_;
  std::uint64_t channel_;
};

class push_actor final : public actor, private courier::detail::turn_end_hook {
 public:
  push_actor(courier::router source, push_config cfg)
      : source_(std::move(source)), cfg_(std::move(cfg)) {
    heartbeat_frame_ = std::make_shared<const std::string>(":\n\n");
  }

  // --- entry points from the edge's routes (same loop)

  void open_stream(request& req, const responder& out) {
    guard g(*this);
    const std::string pattern(req.param("pattern"));
    if (const char* why = pattern_error(pattern)) {
      out.send(bad_request("invalid pattern '" + pattern + "': " + why));
      return;
    }
    std::string_view since_text = req.headers.get("Last-Event-ID");
    std::optional<std::string> q = req.query_param("since");
    if (since_text.empty() && q) {
      since_text = *q;
    }
    bool from_now = since_text.empty();
    bool reset = false;
    std::uint64_t since = 0;
    if (!from_now && !parse_since(since_text, since, reset)) {
      out.send(bad_request("malformed event id '" + std::string(since_text) +
                           "' (expected EPOCH-SEQ)"));
      return;
    }
    if (streams_.size() >= cfg_.max_streams) {
      out.send(response::error(503, "too many SSE streams"));
      return;
    }
    auto c = std::make_unique<sse_client>();
    c->id = next_id_++;
    c->ch = &attach(pattern);
    sse_client& client = *c;
    streams_.emplace(c->id, std::move(c));
    pending_open_.emplace(client.id, out);
    out.on_abandon([w = weak(), id = client.id] {
      if (auto* self = w.get()) {
        self->stream_gone(id, stream_end::client_closed);
      }
    });
    if (auto cursor = known_start(*client.ch, from_now, since, reset)) {
      // The channel has all the client needs: no router round trip.
      if (start(client)) {
        stats_.streams_resumed += from_now ? 0 : 1;
        client.cursor = *cursor;
        go_live(client);
      }
      return;
    }
    // The opening waits for the router's answer: then the subscription
    // is in place, and "from now" means after what the router has.
    fetch(client, from_now ? std::optional<std::uint64_t>{} : since, reset);
  }

  void long_poll(request& req, const responder& out) {
    guard g(*this);
    poll_params p;
    if (!parse_poll(req, out, p)) {
      return;
    }
    auto w = std::make_unique<waiter>();
    w->id = next_id_++;
    w->out = out;
    w->ch = &attach(p.pattern);
    w->max = p.max;
    w->reset = p.reset;
    waiter& wt = *w;
    waiters_.emplace(w->id, std::move(w));
    out.on_abandon([wk = weak(), id = wt.id] {
      if (auto* self = wk.get()) {
        self->waiter_gone(id);
      }
    });
    if (auto cursor = known_start(*wt.ch, p.from_now, p.since, p.reset)) {
      // The channel has all the waiter needs: no router round trip.
      wt.cursor = *cursor;
      park(wt, p.timeout);
      return;
    }
    first_poll(wt, p);
  }

  void publish(request& req, const responder& out) {
    guard g(*this);
    const std::string subject(req.param("subject"));
    if (const char* why = subject_error(subject)) {
      out.send(bad_request("invalid subject '" + subject + "': " + why));
      return;
    }
    if (req.body.size() > cfg_.max_publish_bytes) {
      out.send(response::error(413, "the event exceeds " +
                                        std::to_string(cfg_.max_publish_bytes) +
                                        " bytes"));
      return;
    }
    std::string_view type = req.headers.get("Content-Type");
    std::shared_ptr<courier::detail::event_record> rec;
    bool json_type = type.starts_with("application/json") ||
                     (type.find("+json") != std::string_view::npos);
    if (json_type || type.empty()) {
      nlohmann::json j = parse_json(req.body, cfg_.max_json_depth);
      if (!j.is_discarded()) {
        rec = courier::detail::make_event(subject, std::move(j));
      } else if (json_type) {
        out.send(
            bad_request("the body is not valid JSON, or nests deeper "
                        "than " +
                        std::to_string(cfg_.max_json_depth) + " levels"));
        return;
      }
    }
    if (rec == nullptr) {
      rec = courier::detail::make_event(subject, std::move(req.body));
    }
    ++stats_.published;
    courier::detail::pending_ask_access::make<std::uint64_t>(
        source_.ref(), courier::detail::publish_message{std::move(rec)},
        cfg_.router_timeout)
        .then(
            [this, out, epoch = source_.epoch()](std::uint64_t seq) {
              // The router has sequenced the event and sent it on to the
              // feeds. The answer goes behind them in the loop's ready
              // list, so that streams of this loop get the event written
              // before the publisher hears back, as nchan answers after
              // delivering: a publisher that sends the next event on the
              // answer does not queue it behind this one's fan-out
              // (benchmarks/push.sh, paced).
              self().tell(publish_answer{out, event_id(epoch, seq)});
            },
            [out](const ask_error& e) { out.send(error_response(e, false)); });
  }

  friend class channel_feed;

  void metrics(prometheus_writer& w) const {
    using enum metric_type;
    push_stats s = snapshot();
    w.metric("courier_sse_streams_open", gauge, "Open SSE streams.", {},
             s.streams_open);
    w.metric("courier_sse_streams_opened_total", counter, "SSE streams opened.",
             {}, s.streams_opened);
    w.metric("courier_sse_streams_resumed_total", counter,
             "SSE streams opened with a resume point (Last-Event-ID or since).",
             {}, s.streams_resumed);
    w.metric("courier_sse_events_written_total", counter,
             "SSE events written (replays included).", {}, s.events_written);
    w.metric("courier_sse_bytes_written_total", counter,
             "SSE bytes queued for writing (heartbeats included).", {},
             s.bytes_written);
    w.metric("courier_sse_slow_disconnects_total", counter,
             "SSE streams cut because their write buffer was full.", {},
             s.slow_disconnects);
    w.metric("courier_push_resets_total", counter,
             "Resets sent (history too short or another epoch).", {}, s.resets);
    w.metric("courier_sse_heartbeats_total", counter, "SSE heartbeats written.",
             {}, s.heartbeats);
    w.metric("courier_longpoll_waiters", gauge, "Long polls held now.", {},
             s.waiters);
    w.metric("courier_longpoll_responses_total", counter,
             "Long-poll responses sent.", {}, s.poll_responses);
    w.metric("courier_longpoll_timeouts_total", counter,
             "Long polls answered empty at their timeout.", {},
             s.poll_timeouts);
    w.metric("courier_push_published_total", counter,
             "Events published through POST.", {}, s.published);
    w.metric("courier_push_skipped_total", counter,
             "Events whose payload type no encoder knew.", {}, s.skipped);
    w.metric("courier_push_patterns", gauge, "Patterns subscribed now.", {},
             s.patterns);
  }

 protected:
  courier::behavior behavior() override {
    return {
        [this](get_push_stats) { return snapshot(); },
        [this](drop_push_streams) { drop_streams(); },
        [this](publish_answer& a) {
          // The edge writes the streams' frames when the loop's turn ends;
          // this hook registers after its, so the 202 follows them.
          answers_.push_back(std::move(a));
          hook_loop_ = courier::detail::loop::current();
          hook_loop_->at_turn_end(*this);
        },
    };
  }

  void on_start() override {
    auto base = cfg_.heartbeat.count() > 0
                    ? std::min(cfg_.heartbeat, cfg_.linger)
                    : cfg_.linger;
    auto tick = std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(5), base / 5);
    every(tick, [this] { on_tick(); });
  }

  void at_turn_end() override {
    courier::detail::loop::actor_scope scope(*hook_loop_, *this);
    std::vector<publish_answer> now;
    now.swap(answers_);
    for (const publish_answer& a : now) {
      a.out.send(response::json(202, {{"id", a.id}}));
    }
  }

  void on_stop() override {
    if (hook_loop_ != nullptr) {
      hook_loop_->cancel_turn_end(*this);
      hook_loop_ = nullptr;
    }
    for (const publish_answer& a : answers_) {
      a.out.send(response::json(202, {{"id", a.id}}));
    }
    answers_.clear();
    alive_.reset();  // callbacks from the edge find nothing from now on
    for (auto& [pattern, ch] : channels_) {
      end_channel(*ch);
    }
    for (auto& [id, c] : streams_) {
      c->out.close();
    }
    for (auto& [id, w] : waiters_) {
      w->out.send(response::error(503, "the push service stopped"));
    }
  }

 private:
  // Runs collect() when the outermost entry point returns: clients that
  // went away meanwhile are unlinked and freed only then, so no loop over
  // a channel's clients ever sees one vanish under it.
  struct guard {
    explicit guard(push_actor& a) : a_(a) { ++a_.depth_; }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    ~guard() {
      if (--a_.depth_ == 0) {
        a_.collect();
      }
    }
    push_actor& a_;
  };

  // A handle for callbacks that may run after this actor is gone.
  struct weak_self {
    std::weak_ptr<push_actor*> p;
    push_actor* get() const {
      auto s = p.lock();
      return s ? *s : nullptr;
    }
  };
  weak_self weak() const { return weak_self{alive_}; }

  ms_t now() const { return uv_now(courier::detail::loop::current()->uv()); }

  bool parse_since(std::string_view text, std::uint64_t& since,
                   bool& reset) const {
    std::string epoch;
    if (!parse_event_id(text, epoch, since)) {
      return false;
    }
    if (epoch != source_.epoch()) {
      reset = true;
      since = 0;
    }
    return true;
  }

  // --- channels

  channel& attach(const std::string& pattern) {
    auto it = channels_.find(pattern);
    if (it == channels_.end()) {
      auto ch = std::make_unique<channel>();
      ch->id = next_id_++;
      ch->pattern = pattern;
      ch->feed =
          spawn<channel_feed>(spawn_options{.next_to = self()},
                              std::weak_ptr<push_actor*>(alive_), ch->id);
      by_id_[ch->id] = ch.get();
      subscribe(*ch);
      it = channels_.emplace(pattern, std::move(ch)).first;
    }
    ++it->second->users;
    return *it->second;
  }

  void subscribe(channel& ch) {
    subscribe_options o;
    o.max_in_flight = 65536;
    o.on_overflow = overflow_policy::cancel;
    ch.sub = source_.subscribe<any_payload>(ch.pattern, ch.feed, o);
  }

  void detach(channel& ch) {
    if (--ch.users == 0) {
      ch.idle_since = now();
    }
  }

  // --- history fetches

  // Fetches the events of the client's channel after `since` (from now
  // when unset), for a stream that opens or replays.
  void fetch(sse_client& c, std::optional<std::uint64_t> since, bool reset) {
    bool opening = !c.out.open() && pending_open_.contains(c.id);
    std::size_t max = since ? cfg_.replay_batch : 0;
    courier::detail::pending_ask_access::make<fetch_result>(
        source_.ref(), fetch_request{c.ch->pattern, since.value_or(0), max},
        cfg_.router_timeout)
        .then(
            [w = weak(), id = c.id, opening, reset, from_now = !since,
             gen = c.ch->generation](fetch_result r) {
              if (auto* self = w.get()) {
                guard g(*self);
                self->fetched(id, std::move(r), opening, reset, from_now, gen);
              }
            },
            [w = weak(), id = c.id](const ask_error& e) {
              if (auto* self = w.get()) {
                guard g(*self);
                self->fetch_failed(id, e);
              }
            });
  }

  void fetched(std::uint64_t id, fetch_result r, bool opening, bool reset,
               bool from_now, std::uint64_t generation) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->gone) {
      return;
    }
    sse_client& c = *it->second;
    note_fetch(*c.ch, generation, r);
    if (opening && !start(c)) {
      return;
    }
    if (from_now) {
      c.cursor = r.last;
      go_live(c);
      return;
    }
    if (opening) {
      ++stats_.streams_resumed;
    }
    if (opening && (reset || r.reset)) {
      ++stats_.resets;
      std::uint64_t resume = r.first_available - 1;
      nlohmann::json data = {
          {"first_available", event_id(source_.epoch(), r.first_available)}};
      write(c, std::make_shared<const std::string>(sse_encode(
                   dump(data), "reset", event_id(source_.epoch(), resume))));
      c.cursor = resume;
    }
    c.more = r.events.size() >= cfg_.replay_batch && cfg_.replay_batch > 0;
    std::uint64_t next = r.next;
    c.backlog = std::move(r.events);
    c.backlog_pos = 0;
    drain(c);
    if (!c.gone && c.backlog.empty()) {
      c.cursor = std::max(c.cursor, next);
      replay_step(c);
    } else if (!c.gone) {
      c.backlog_next = next;  // the rest goes out when the stream drained
    }
  }

  // A fetch answered after the channel's subscription was in place: the
  // channel hears of every matching event after the router's last.
  static void note_fetch(channel& ch, std::uint64_t generation,
                         const fetch_result& r) {
    if (generation != ch.generation) {
      return;
    }
    ch.covered_from = std::min(ch.covered_from, r.last);
    ch.known_last = std::max(ch.known_last, r.last);
  }

  void fetch_failed(std::uint64_t id, const ask_error& e) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->gone) {
      return;
    }
    sse_client& c = *it->second;
    auto p = pending_open_.find(id);
    if (p != pending_open_.end()) {
      responder out = p->second;
      pending_open_.erase(p);
      out.send(error_response(e, false));
      drop(c, false);
      return;
    }
    c.out.close();
    drop(c, false);
  }

  // Sends the stream's head and opening; false when the client left.
  bool start(sse_client& c) {
    auto p = pending_open_.find(c.id);
    if (p == pending_open_.end()) {
      return false;
    }
    responder out = p->second;
    pending_open_.erase(p);
    if (out.done()) {
      drop(c, false);
      return false;
    }
    response head;
    head.status = 200;
    head.headers.set("Content-Type", "text/event-stream");
    head.headers.set("Cache-Control", "no-cache");
    head.headers.set("X-Accel-Buffering", "no");
    c.out = out.start_stream(std::move(head),
                             {.max_buffer = cfg_.max_stream_buffer,
                              .on_end =
                                  [w = weak(), id = c.id](stream_end why) {
                                    if (auto* self = w.get()) {
                                      self->stream_gone(id, why);
                                    }
                                  },
                              .on_drain =
                                  [w = weak(), id = c.id] {
                                    if (auto* self = w.get()) {
                                      self->drained(id);
                                    }
                                  }});
    if (!c.out.open()) {
      drop(c, false);
      return false;
    }
    ++stats_.streams_opened;
    std::string opening = ": courier\n";
    if (cfg_.retry.count() > 0) {
      opening += "retry: " + std::to_string(cfg_.retry.count()) + "\n";
    }
    opening += "\n";
    write(c, std::make_shared<const std::string>(std::move(opening)));
    return true;
  }

  // Writes the fetched events while the stream's buffer has room; the
  // rest waits until the stream drained.
  void drain(sse_client& c) {
    while (!c.gone && c.backlog_pos < c.backlog.size() &&
           c.out.buffered() < cfg_.max_stream_buffer / 2) {
      const event_ref& e = c.backlog[c.backlog_pos++];
      if (e.seq() <= c.cursor) {
        continue;
      }
      std::shared_ptr<const std::string> f = replay_frame(*e.record());
      c.cursor = e.seq();
      if (f == nullptr) {
        continue;
      }
      if (!write(c, std::move(f))) {
        return;
      }
      ++stats_.events_written;
    }
    if (c.backlog_pos >= c.backlog.size()) {
      c.backlog.clear();
      c.backlog_pos = 0;
    }
  }

  // The SSE frame of a replayed event, shared by every stream that
  // replays it while one still holds it: streams that replay the same
  // history (a crowd reconnecting, or clients that never read) cost one
  // frame per event, not one per stream. Null when no encoder knows it.
  std::shared_ptr<const std::string> replay_frame(
      const courier::detail::event_record& rec) {
    std::weak_ptr<const std::string>& cached = replay_frames_[rec.seq];
    if (auto f = cached.lock()) {
      return f;
    }
    std::optional<std::string> text = cfg_.codec.to_text(rec);
    if (!text) {
      return nullptr;
    }
    auto f = std::make_shared<const std::string>(encode_frame(rec, *text));
    cached = f;
    if (replay_frames_.size() >= replay_sweep_at_) {
      std::erase_if(replay_frames_,
                    [](const auto& kv) { return kv.second.expired(); });
      replay_sweep_at_ = std::max<std::size_t>(1024, 2 * replay_frames_.size());
    }
    return f;
  }

  // After a replayed batch went out: fetch more, or go live.
  void replay_step(sse_client& c) {
    if (c.gone) {
      return;
    }
    if (c.more || c.ch->evicted_max > c.cursor) {
      fetch(c, c.cursor, false);
      return;
    }
    go_live(c);
  }

  // Writes what the channel received after the client's cursor, then the
  // client gets every event as it comes.
  void go_live(sse_client& c) {
    channel& ch = *c.ch;
    if (ch.evicted_max > c.cursor) {
      fetch(c, c.cursor, false);  // the channel lost some: fetch them
      return;
    }
    // As much as the stream's buffer takes; the rest when it drained.
    auto it = after_seq(ch, c.cursor);
    for (; it != ch.recent.end(); ++it) {
      if (c.out.buffered() >= cfg_.max_stream_buffer / 2) {
        c.catching_up = true;
        return;
      }
      c.cursor = it->rec->seq;
      if (!it->skipped) {
        if (!write(c, frame(*it))) {
          return;
        }
        ++stats_.events_written;
      }
    }
    c.live = true;
    ch.live.push_back(&c);
  }

  bool write(sse_client& c, std::shared_ptr<const std::string> bytes) {
    std::size_t n = bytes->size();
    if (!c.out.write(std::move(bytes))) {
      return false;
    }
    stats_.bytes_written += n;
    c.last_write = now();
    return true;
  }

  std::string encode_frame(const courier::detail::event_record& rec,
                           const std::string& text) const {
    std::string_view name;
    if (cfg_.event_name == "{subject}") {
      name = rec.subject;
    } else {
      name = cfg_.event_name;
    }
    return sse_encode(text, name, event_id(source_.epoch(), rec.seq));
  }

  const std::shared_ptr<const std::string>& frame(recent_event& e) {
    if (e.sse == nullptr) {
      std::optional<std::string> text = cfg_.codec.to_text(*e.rec);
      e.sse = std::make_shared<const std::string>(
          text ? encode_frame(*e.rec, *text) : std::string());
    }
    return e.sse;
  }

  std::string poll_entry(const courier::detail::event_record& rec) const {
    std::optional<nlohmann::json> data = cfg_.codec.to_json(rec);
    nlohmann::json j = {{"id", event_id(source_.epoch(), rec.seq)},
                        {"subject", rec.subject},
                        {"data", data ? std::move(*data) : nlohmann::json()}};
    return dump(j);
  }

  const std::string& entry(recent_event& e) {
    if (e.json == nullptr) {
      e.json = std::make_shared<const std::string>(poll_entry(*e.rec));
    }
    return *e.json;
  }

  // --- events

  void on_event(std::uint64_t channel_id, const event_ref& e) {
    guard g(*this);
    auto it = by_id_.find(channel_id);
    if (it == by_id_.end()) {
      return;  // a channel that ended
    }
    channel& ch = *it->second;
    recent_event re;
    re.rec = e.record();
    re.skipped = !cfg_.codec.knows(re.rec->type);
    if (re.skipped) {
      ++stats_.skipped;
    }
    ch.last_seq = std::max(ch.last_seq, re.rec->seq);
    ch.recent.push_back(std::move(re));
    if (ch.recent.size() > std::max<std::size_t>(cfg_.recent_events, 1)) {
      ch.evicted_max = ch.recent.front().rec->seq;
      ch.recent.pop_front();
    }
    recent_event& last = ch.recent.back();
    if (last.skipped) {
      return;
    }
    std::uint64_t seq = last.rec->seq;
    if (!ch.live.empty()) {
      const std::shared_ptr<const std::string>& f = frame(last);
      for (sse_client* c : ch.live) {
        if (c->gone || c->cursor >= seq) {
          continue;
        }
        c->cursor = seq;
        if (write(*c, f)) {
          ++stats_.events_written;
        }
      }
    }
    if (!ch.waiting.empty()) {
      wake(ch);
    }
  }

  void on_cancelled(std::uint64_t channel_id, const subscription_cancelled& m) {
    guard g(*this);
    auto it = by_id_.find(channel_id);
    if (it == by_id_.end() || it->second->sub.id() != m.subscription) {
      return;
    }
    channel& ch = *it->second;
    // The router dropped events for it: subscribe again, and bring every
    // client back through history from its cursor.
    ch.recent.clear();
    ch.evicted_max = ch.last_seq;
    ch.covered_from = std::numeric_limits<std::uint64_t>::max();
    ++ch.generation;
    subscribe(ch);
    std::vector<sse_client*> live = std::move(ch.live);
    ch.live.clear();
    for (sse_client* c : live) {
      if (!c->gone) {
        c->live = false;
        fetch(*c, c->cursor, false);
      }
    }
    std::vector<waiter*> waiting = std::move(ch.waiting);
    ch.waiting.clear();
    for (waiter* w : waiting) {
      if (!w->gone) {
        poll_fetch(*w, w->cursor);
      }
    }
  }

  // --- long polling

  bool parse_poll(request& req, const responder& out, poll_params& p) {
    p.pattern.assign(req.param("pattern"));
    if (const char* why = pattern_error(p.pattern)) {
      out.send(bad_request("invalid pattern '" + p.pattern + "': " + why));
      return false;
    }
    if (auto since = req.query_param("since"); since && !since->empty()) {
      p.from_now = false;
      if (!parse_since(*since, p.since, p.reset)) {
        out.send(bad_request("malformed since '" + *since +
                             "' (expected EPOCH-SEQ)"));
        return false;
      }
    }
    p.timeout = cfg_.poll_timeout;
    if (auto t = req.query_param("timeout")) {
      double secs = 0;
      auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), secs);
      if (t->empty() || ec != std::errc{} || end != t->data() + t->size() ||
          !(secs >= 0) || secs > 1e9) {
        out.send(bad_request("timeout must be a number of seconds, not '" + *t +
                             "'"));
        return false;
      }
      p.timeout = std::chrono::milliseconds(
          static_cast<std::int64_t>(secs * 1000.0 + 0.5));
    }
    p.timeout = std::min(p.timeout, cfg_.max_poll_timeout);
    p.max = cfg_.poll_max;
    if (auto m = req.query_param("max")) {
      std::size_t v = 0;
      auto [end, ec] = std::from_chars(m->data(), m->data() + m->size(), v);
      if (m->empty() || ec != std::errc{} || end != m->data() + m->size() ||
          v == 0) {
        out.send(
            bad_request("max must be a positive integer, not '" + *m + "'"));
        return false;
      }
      p.max = v;
    }
    p.max = std::max<std::size_t>(1, std::min(p.max, cfg_.max_poll_max));
    if (p.timeout.count() > 0 && waiters_.size() >= cfg_.max_waiters) {
      out.send(response::error(503, "too many long-poll waiters"));
      return false;
    }
    return true;
  }

  void first_poll(waiter& w, const poll_params& p) {
    courier::detail::pending_ask_access::make<fetch_result>(
        source_.ref(),
        fetch_request{w.ch->pattern, p.since, p.from_now ? 0 : w.max},
        cfg_.router_timeout)
        .then(
            [wk = weak(), id = w.id, p,
             gen = w.ch->generation](fetch_result r) {
              if (auto* self = wk.get()) {
                guard g(*self);
                self->first_polled(id, std::move(r), p, gen);
              }
            },
            [wk = weak(), id = w.id](const ask_error& e) {
              if (auto* self = wk.get()) {
                guard g(*self);
                self->poll_failed(id, e);
              }
            });
  }

  waiter* find_waiter(std::uint64_t id) {
    auto it = waiters_.find(id);
    return it == waiters_.end() || it->second->gone ? nullptr
                                                    : it->second.get();
  }

  void first_polled(std::uint64_t id, fetch_result r, const poll_params& p,
                    std::uint64_t generation) {
    waiter* wp = find_waiter(id);
    if (wp == nullptr) {
      return;
    }
    waiter& w = *wp;
    note_fetch(*w.ch, generation, r);
    if (p.from_now) {
      w.cursor = r.last;
    } else {
      w.reset = w.reset || r.reset;
      if (!r.events.empty() || w.reset) {
        answer(w, r.events, r.next);
        return;
      }
      w.cursor = r.next;
    }
    park(w, p.timeout);
  }

  // A waiter whose cursor is known: answer from the channel's recent
  // events, or hold it until an event or its timeout.
  void park(waiter& w, std::chrono::milliseconds timeout) {
    channel& ch = *w.ch;
    if (ch.evicted_max > w.cursor) {
      poll_fetch(w, w.cursor);
      return;
    }
    for (auto it = after_seq(ch, w.cursor); it != ch.recent.end(); ++it) {
      if (!it->skipped) {
        answer_recent(w);
        return;
      }
    }
    if (timeout.count() <= 0) {
      answer(w, {}, std::max(w.cursor, ch.last_seq));
      return;
    }
    ch.waiting.push_back(&w);
    w.deadline = after(timeout, [this, id = w.id] {
      guard g(*this);
      if (waiter* t = find_waiter(id)) {
        ++stats_.poll_timeouts;
        answer(*t, {}, std::max(t->cursor, t->ch->last_seq));
      }
    });
  }

  // Fetches for a waiter whose channel cannot tell what it missed.
  void poll_fetch(waiter& w, std::uint64_t since) {
    courier::detail::pending_ask_access::make<fetch_result>(
        source_.ref(), fetch_request{w.ch->pattern, since, w.max},
        cfg_.router_timeout)
        .then(
            [wk = weak(), id = w.id, gen = w.ch->generation](fetch_result r) {
              if (auto* self = wk.get()) {
                guard g(*self);
                if (waiter* t = self->find_waiter(id)) {
                  note_fetch(*t->ch, gen, r);
                  t->reset = t->reset || r.reset;
                  self->answer(*t, r.events, r.next);
                }
              }
            },
            [wk = weak(), id = w.id](const ask_error& e) {
              if (auto* self = wk.get()) {
                guard g(*self);
                self->poll_failed(id, e);
              }
            });
  }

  void poll_failed(std::uint64_t id, const ask_error& e) {
    if (waiter* w = find_waiter(id)) {
      w->out.send(error_response(e, false));
      drop(*w);
    }
  }

  // Answers every waiter of `ch` that the newest event concerns, in one
  // pass; waiters with the same cursor and max share one body.
  void wake(channel& ch) {
    std::uint64_t seq = ch.recent.back().rec->seq;
    std::uint64_t body_cursor = 0;
    std::size_t body_max = 0;
    bool body_reset = false;
    std::optional<std::string> body;
    std::vector<waiter*> lost;
    for (waiter* w : ch.waiting) {
      if (w->gone || w->fetching || w->cursor >= seq) {
        continue;
      }
      if (ch.evicted_max > w->cursor) {
        lost.push_back(w);
        continue;
      }
      if (!body || w->cursor != body_cursor || w->max != body_max ||
          w->reset != body_reset) {
        body = recent_body(*w);
        body_cursor = w->cursor;
        body_max = w->max;
        body_reset = w->reset;
      }
      send_body(*w, *body);
    }
    ch.dirty = true;
    for (waiter* w : lost) {
      w->fetching = true;
      poll_fetch(*w, w->cursor);
    }
  }

  void answer_recent(waiter& w) { send_body(w, recent_body(w)); }

  // The body for a waiter from the channel's recent events.
  std::string recent_body(waiter& w) {
    std::string b = "{\"events\":[";
    std::uint64_t next = w.cursor;
    std::size_t n = 0;
    bool cut = false;
    for (auto it = after_seq(*w.ch, w.cursor); it != w.ch->recent.end(); ++it) {
      recent_event& e = *it;
      if (n == w.max || b.size() >= cfg_.max_poll_bytes) {
        cut = true;
        break;
      }
      next = e.rec->seq;
      if (e.skipped) {
        continue;
      }
      if (n++ != 0) {
        b += ',';
      }
      b += entry(e);
    }
    if (!cut) {
      next = std::max(next, w.ch->last_seq);
    }
    finish_body(b, next, w.reset);
    return b;
  }

  void finish_body(std::string& b, std::uint64_t next, bool reset) const {
    b += "],\"next\":\"";
    b += event_id(source_.epoch(), next);
    b += '"';
    if (reset) {
      b += ",\"reset\":true";
    }
    b += '}';
  }

  void answer(waiter& w, const std::vector<event_ref>& events,
              std::uint64_t next) {
    std::string b = "{\"events\":[";
    std::size_t n = 0;
    channel& ch = *w.ch;
    for (const event_ref& e : events) {
      if (b.size() >= cfg_.max_poll_bytes) {
        next = e.seq() - 1;  // the rest in the next poll
        break;
      }
      if (!cfg_.codec.knows(e.record()->type)) {
        continue;
      }
      if (n++ != 0) {
        b += ',';
      }
      // The channel's encoding when it still has the event.
      auto it = after_seq(ch, e.seq() - 1);
      if (it != ch.recent.end() && it->rec->seq == e.seq()) {
        b += entry(*it);
      } else {
        b += poll_entry(*e.record());
      }
    }
    finish_body(b, next, w.reset);
    send_body(w, b);
  }

  void send_body(waiter& w, std::string body) {
    if (w.reset) {
      ++stats_.resets;
    }
    response r;
    r.status = 200;
    r.headers.set("Content-Type", "application/json");
    r.headers.set("Cache-Control", "no-cache");
    r.body = std::move(body);
    w.out.send(std::move(r));
    ++stats_.poll_responses;
    drop(w);
  }

  // --- clients leaving

  void stream_gone(std::uint64_t id, stream_end why) {
    guard g(*this);
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->gone) {
      return;
    }
    if (why == stream_end::slow_client) {
      ++stats_.slow_disconnects;
    }
    pending_open_.erase(id);
    drop(*it->second, false);
  }

  void waiter_gone(std::uint64_t id) {
    guard g(*this);
    if (waiter* w = find_waiter(id)) {
      drop(*w);
    }
  }

  void drop(sse_client& c, bool close) {
    if (c.gone) {
      return;
    }
    c.gone = true;
    if (close) {
      c.out.close();
    }
    c.ch->dirty = true;
    detach(*c.ch);
    dead_streams_.push_back(c.id);
  }

  void drop(waiter& w) {
    if (w.gone) {
      return;
    }
    w.gone = true;
    w.deadline.cancel();
    w.ch->dirty = true;
    detach(*w.ch);
    dead_waiters_.push_back(w.id);
  }

  void drop_streams() {
    guard g(*this);
    for (auto& [id, c] : streams_) {
      pending_open_.erase(id);
      drop(*c, true);
    }
  }

  // Unlinks and frees the clients that left.
  void collect() {
    if (dead_streams_.empty() && dead_waiters_.empty()) {
      return;
    }
    for (auto& [pattern, ch] : channels_) {
      if (ch->dirty) {
        std::erase_if(ch->live, [](sse_client* c) { return c->gone; });
        std::erase_if(ch->waiting, [](waiter* w) { return w->gone; });
        ch->dirty = false;
      }
    }
    for (std::uint64_t id : dead_streams_) {
      streams_.erase(id);
    }
    dead_streams_.clear();
    for (std::uint64_t id : dead_waiters_) {
      waiters_.erase(id);
    }
    dead_waiters_.clear();
  }

  // A stream wrote all it had: a replay goes on with its next burst.
  void drained(std::uint64_t id) {
    guard g(*this);
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->gone) {
      return;
    }
    sse_client& c = *it->second;
    if (c.catching_up) {
      c.catching_up = false;
      go_live(c);
      return;
    }
    if (c.backlog.empty()) {
      return;
    }
    drain(c);
    if (!c.gone && c.backlog.empty()) {
      c.cursor = std::max(c.cursor, c.backlog_next);
      replay_step(c);
    }
  }

  // --- periodic work: heartbeats, idle channels

  void on_tick() {
    guard g(*this);
    ms_t t = now();
    for (auto& [id, c] : streams_) {
      if (c->gone || !c->out.open()) {
        continue;
      }
      if (!c->gone && cfg_.heartbeat.count() > 0 &&
          t - c->last_write >= static_cast<ms_t>(cfg_.heartbeat.count())) {
        if (write(*c, heartbeat_frame_)) {
          ++stats_.heartbeats;
        }
      }
    }
    for (auto it = channels_.begin(); it != channels_.end();) {
      channel& ch = *it->second;
      if (ch.users == 0 &&
          t - ch.idle_since >= static_cast<ms_t>(cfg_.linger.count())) {
        end_channel(ch);
        it = channels_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void end_channel(channel& ch) {
    by_id_.erase(ch.id);
    ch.sub.unsubscribe();
    ch.feed.tell(stop_feed{});
  }

  push_stats snapshot() const {
    push_stats s = stats_;
    s.streams_open = 0;
    for (const auto& [id, c] : streams_) {
      if (!c->gone && c->out.open()) {
        ++s.streams_open;
      }
    }
    s.waiters = 0;
    for (const auto& [id, w] : waiters_) {
      if (!w->gone) {
        ++s.waiters;
      }
    }
    s.patterns = channels_.size();
    return s;
  }

  courier::router source_;
  push_config cfg_;
  std::shared_ptr<push_actor*> alive_ = std::make_shared<push_actor*>(this);
  std::shared_ptr<const std::string> heartbeat_frame_;
  std::unordered_map<std::string, std::unique_ptr<channel>> channels_;
  std::unordered_map<std::uint64_t, channel*> by_id_;
  std::unordered_map<std::uint64_t, std::unique_ptr<sse_client>> streams_;
  // See replay_frame(): by sequence number, swept when it doubled.
  std::unordered_map<std::uint64_t, std::weak_ptr<const std::string>>
      replay_frames_;
  std::size_t replay_sweep_at_ = 1024;
  std::unordered_map<std::uint64_t, responder> pending_open_;
  std::unordered_map<std::uint64_t, std::unique_ptr<waiter>> waiters_;
  std::vector<std::uint64_t> dead_streams_;
  std::vector<std::uint64_t> dead_waiters_;
  std::uint64_t next_id_ = 1;
  // 202s of sequenced publishes, sent when the loop's turn ends.
  std::vector<publish_answer> answers_;
  courier::detail::loop* hook_loop_ = nullptr;
  int depth_ = 0;
  push_stats stats_;
};

courier::behavior channel_feed::behavior() {
  return {
      [this](const event_ref& e) {
        if (auto s = owner_.lock()) {
          (*s)->on_event(channel_, e);
        }
      },
      [this](const subscription_cancelled& m) {
        if (auto s = owner_.lock()) {
          (*s)->on_cancelled(channel_, m);
        }
      },
      [this](stop_feed) { stop(); },
  };
}

namespace {

// The push actor of `ref`, from a route on the edge's loop.
push_actor* local_push(actor_ref ref) {
  courier::detail::loop* l = courier::detail::loop::current();
  return l == nullptr ? nullptr
                      : dynamic_cast<push_actor*>(l->local_actor(ref));
}

template <class F>
handler push_route(actor_ref ref, F f) {
  return [ref, f](request& req, responder out) {
    push_actor* p = local_push(ref);
    if (p == nullptr) {
      out.send(response::error(
          503, "the push service is not running on this server's loop"));
      return;
    }
    (p->*f)(req, out);
  };
}

}  // namespace

}  // namespace impl

push push::mount(system& sys, server_config& server_cfg, routes& r,
                 courier::router source, push_config cfg) {
  if (cfg.event_name != "{subject}") {
    if (const char* why = sse_field_error(cfg.event_name)) {
      throw std::invalid_argument(std::string("push: event_name ") + why);
    }
  }
  spawn_options where;
  where.loop = server_cfg.loop;
  bool publish = cfg.publish;
  std::string token = cfg.publish_token;
  std::string sse = cfg.sse_path + "{pattern}";
  std::string poll = cfg.poll_path + "{pattern}";
  std::string pub = cfg.publish_path + "{subject}";
  std::string pub_prefix = cfg.publish_path;
  actor_ref ref =
      sys.spawn<impl::push_actor>(where, std::move(source), std::move(cfg));
  server_cfg.loop = ref.loop();
  r.get(sse, impl::push_route(ref, &impl::push_actor::open_stream));
  r.get(poll, impl::push_route(ref, &impl::push_actor::long_poll));
  if (publish) {
    r.post(pub, impl::push_route(ref, &impl::push_actor::publish));
    if (!token.empty()) {
      r.protect(pub_prefix, token);
    }
  }
  server_cfg.metrics_producers.push_back([ref](prometheus_writer& w) {
    if (impl::push_actor* p = impl::local_push(ref)) {
      p->metrics(w);
    }
  });
  push out;
  out.ref_ = ref;
  return out;
}

push_stats push::stats() const {
  return ref_.ask<push_stats>(impl::get_push_stats{}).get();
}

void push::drop_streams() const {
  ref_.tell(impl::drop_push_streams{});
}

}  // namespace courier::http
