#pragma once

// Server-Sent Events (text/event-stream) framing, by the rules of the
// WHATWG HTML standard ("Server-sent events", "Interpreting an event
// stream"): an incremental parser for readers and an encoder for writers.
// Link courier::http.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace courier::http {

/// One dispatched event. `type` is "message" unless the stream named it;
/// `data` has the data lines joined with LF; `id` is the stream's last
/// event id at dispatch.
struct sse_event {
  std::string type = "message";
  std::string data;
  std::string id;
};

/// Parses a text/event-stream incrementally: feed() any chunking of the
/// stream and get the same events. Line ends may be CRLF, LF or CR (also
/// split across chunks); a leading UTF-8 BOM is skipped; comments are
/// ignored; one space after the colon is removed; an id with a NUL is
/// ignored; retry takes ASCII digits only; an event with no data line is
/// not dispatched. Lines longer than `max_line` bytes make feed() return
/// false (the stream is then in error).
class sse_parser {
 public:
  explicit sse_parser(std::size_t max_line = 1 << 20) : max_line_(max_line) {}

  template <class OnEvent>
  bool feed(std::string_view chunk, OnEvent&& on_event) {
    for (char ch : chunk) {
      if (!bom_checked_) {
        if (bom_seen_ < 3 &&
            static_cast<unsigned char>(ch) == bom_[bom_seen_]) {
          ++bom_seen_;
          if (bom_seen_ == 3) {
            bom_checked_ = true;
          }
          continue;
        }
        bom_checked_ = true;
        line_.append(reinterpret_cast<const char*>(bom_), bom_seen_);
      }
      if (after_cr_ && ch == '\n') {
        after_cr_ = false;  // the LF of a CRLF
        continue;
      }
      after_cr_ = false;
      if (ch == '\r' || ch == '\n') {
        after_cr_ = ch == '\r';
        line(on_event);
        line_.clear();
        continue;
      }
      if (line_.size() >= max_line_) {
        return false;
      }
      line_.push_back(ch);
    }
    return true;
  }

  /// The last event id (survives dispatches, as the reconnect's
  /// Last-Event-ID).
  const std::string& last_id() const noexcept { return last_id_; }
  /// The reconnection time the stream asked for, in milliseconds.
  std::optional<long long> retry() const noexcept { return retry_; }

 private:
  template <class OnEvent>
  void line(OnEvent& on_event) {
    if (line_.empty()) {
      if (!has_data_) {
        type_.clear();
        return;
      }
      if (!data_.empty() && data_.back() == '\n') {
        data_.pop_back();
      }
      sse_event e;
      e.type = type_.empty() ? "message" : type_;
      e.data = std::move(data_);
      e.id = last_id_;
      data_.clear();
      type_.clear();
      has_data_ = false;
      on_event(std::move(e));
      return;
    }
    if (line_.front() == ':') {
      return;  // a comment
    }
    std::size_t colon = line_.find(':');
    std::string_view field(line_);
    std::string_view value;
    if (colon != std::string::npos) {
      field = std::string_view(line_).substr(0, colon);
      value = std::string_view(line_).substr(colon + 1);
      if (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
      }
    }
    if (field == "event") {
      type_.assign(value);
    } else if (field == "data") {
      data_.append(value);
      data_.push_back('\n');
      has_data_ = true;
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) {
        last_id_.assign(value);
      }
    } else if (field == "retry") {
      if (!value.empty() &&
          value.find_first_not_of("0123456789") == std::string_view::npos &&
          value.size() < 18) {
        retry_ = std::stoll(std::string(value));
      }
    }
  }

  static constexpr unsigned char bom_[3] = {0xEF, 0xBB, 0xBF};
  std::size_t max_line_;
  std::string line_;
  std::string data_;
  std::string type_;
  std::string last_id_;
  std::optional<long long> retry_;
  bool has_data_ = false;
  bool after_cr_ = false;
  bool bom_checked_ = false;
  std::size_t bom_seen_ = 0;
};

/// Why a field value cannot go on the wire as is, or null: event names
/// and ids must not contain CR, LF or NUL.
const char* sse_field_error(std::string_view value) noexcept;

/// Encodes one event: `id:` and `event:` lines when not empty (they must
/// pass sse_field_error(), else std::invalid_argument), then the data
/// split at every CRLF, LF and lone CR into `data:` lines, then the blank
/// line. An empty `data` gives one empty data line, so the event is
/// dispatched. Parsing the result gives back `data` with its line breaks
/// as LF.
std::string sse_encode(std::string_view data, std::string_view event = {},
                       std::string_view id = {});

/// A comment line (heartbeats); CR and LF in `text` become spaces.
std::string sse_comment(std::string_view text);

}  // namespace courier::http
