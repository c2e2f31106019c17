#pragma once

// Inline definitions of the mailbox's hot operations, for lib/ only.

#include "courier/detail/mailbox.hpp"

#include <cstring>
#include <new>
#include <utility>

namespace courier::detail {

struct mailbox::block {
  static constexpr std::uint32_t bytes = 1024;
  static constexpr std::uint32_t header = 16;
  static constexpr std::uint32_t capacity = bytes - header;

  block* next = nullptr;
  std::uint32_t used = 0;  // bytes of `data` holding records
  alignas(16) unsigned char data[capacity];
};

static_assert(sizeof(mailbox::block) == mailbox::block::bytes);

namespace mailbox_record {

// The fixed part of a record; the way back (if any) and the message follow.
struct head {
  const msg_vtable* vt;
  std::uint16_t length;  // of the whole record, a multiple of 8
  std::uint8_t payload;  // offset of the message from the record's start
  envelope_kind kind;
  reply_mode mode;
  bool routed;  // reply_to and request_id follow the head
  std::uint8_t pad[2];
};
static_assert(sizeof(head) == 16);

struct route {
  actor_ref reply_to;
  std::uint64_t request_id;
};
static_assert(sizeof(route) == 24 || sizeof(route) == 16);

constexpr std::uint32_t round_up(std::uint32_t n, std::uint32_t to) noexcept {
  return (n + to - 1) & ~(to - 1);
}

inline bool needs_route(const envelope& e) noexcept {
  return e.mode != reply_mode::none || e.kind != envelope_kind::message ||
         e.request_id != 0 || e.reply_to.valid();
}

// Where the message starts in a record that starts at `at` (an offset in a
// block's 16-aligned data), and the record's length.
inline void layout(const envelope& e, std::uint32_t at, std::uint32_t& payload,
                   std::uint32_t& length) noexcept {
  std::uint32_t fixed =
      sizeof(head) +
      (needs_route(e) ? static_cast<std::uint32_t>(sizeof(route)) : 0u);
  const msg_vtable* vt = e.type();
  if (vt == nullptr) {
    payload = fixed;
    length = fixed;
    return;
  }
  std::uint32_t align = vt->stored_align > 8 ? vt->stored_align : 8;
  payload = round_up(at + fixed, align) - at;
  length = round_up(payload + vt->stored_size, 8);
}

}  // namespace mailbox_record

inline std::size_t mailbox::record_size(const envelope& e) noexcept {
  std::uint32_t payload = 0;
  std::uint32_t length = 0;
  mailbox_record::layout(e, 0, payload, length);
  return length;
}

inline void mailbox::push(envelope&& e) {
  using namespace mailbox_record;
  std::uint32_t payload = 0;
  std::uint32_t length = 0;
  if (tail_ != nullptr) {
    layout(e, tail_off_, payload, length);
  }
  if (tail_ == nullptr || tail_off_ + length > block::capacity) {
    append_block();
    layout(e, 0, payload, length);
  }
  unsigned char* at = tail_->data + tail_off_;
  auto* h = ::new (static_cast<void*>(at)) head;
  h->vt = e.vt_;
  h->length = static_cast<std::uint16_t>(length);
  h->payload = static_cast<std::uint8_t>(payload);
  h->kind = e.kind;
  h->mode = e.mode;
  h->routed = needs_route(e);
  if (h->routed) {
    ::new (static_cast<void*>(at + sizeof(head)))
        route{e.reply_to, e.request_id};
  }
  if (e.vt_ != nullptr) {
    if (e.vt_->relocate != nullptr) {
      e.vt_->relocate(at + payload, e.buf_);
    } else {
      std::memcpy(at + payload, e.buf_, e.vt_->stored_size);
    }
    e.vt_ = nullptr;
  }
  // The request travels on in the record: `e` must not answer it.
  e.mode = reply_mode::none;
  tail_off_ += length;
  tail_->used = tail_off_;
  ++size_;
}

inline void mailbox::pop(envelope& out) noexcept {
  using namespace mailbox_record;
  unsigned char* at = head_->data + head_off_;
  const head* h = std::launder(reinterpret_cast<const head*>(at));
  out.kind = h->kind;
  out.mode = h->mode;
  if (h->routed) {
    const route* r =
        std::launder(reinterpret_cast<const route*>(at + sizeof(head)));
    out.reply_to = r->reply_to;
    out.request_id = r->request_id;
  } else {
    out.reply_to = actor_ref{};
    out.request_id = 0;
  }
  out.vt_ = h->vt;
  if (h->vt != nullptr) {
    if (h->vt->relocate != nullptr) {
      h->vt->relocate(out.buf_, at + h->payload);
    } else {
      std::memcpy(out.buf_, at + h->payload, h->vt->stored_size);
    }
  }
  head_off_ += h->length;
  --size_;
  if (size_ == 0) {
    // The last record was in the tail block, now the only one: keep it for
    // the next message; shrink() returns it.
    head_off_ = 0;
    tail_off_ = 0;
    tail_->used = 0;
  } else if (head_off_ == head_->used && head_ != tail_) {
    drop_head_block();
  }
}

}  // namespace courier::detail
