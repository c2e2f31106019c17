#include "courier/sse.hpp"

#include <stdexcept>
#include <string>

namespace courier::http {

const char* sse_field_error(std::string_view value) noexcept {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) !=
      std::string_view::npos) {
    return "contains CR, LF or NUL";
  }
  return nullptr;
}

std::string sse_encode(std::string_view data, std::string_view event,
                       std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  if (!id.empty()) {
    if (const char* why = sse_field_error(id)) {
      throw std::invalid_argument(std::string("courier: SSE id ") + why);
    }
    out += "id: ";
    out += id;
    out += '\n';
  }
  if (!event.empty()) {
    if (const char* why = sse_field_error(event)) {
      throw std::invalid_argument(std::string("courier: SSE event name ") +
                                  why);
    }
    out += "event: ";
    out += event;
    out += '\n';
  }
  // Every CRLF, LF and lone CR starts a new data line.
  std::size_t start = 0;
  for (std::size_t i = 0; i <= data.size(); ++i) {
    bool end = i == data.size();
    char c = end ? '\n' : data[i];
    if (c != '\r' && c != '\n') {
      continue;
    }
    out += "data: ";
    out.append(data.substr(start, i - start));
    out += '\n';
    if (!end && c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') {
      ++i;
    }
    start = i + 1;
  }
  out += '\n';
  return out;
}

std::string sse_comment(std::string_view text) {
  std::string out = ": ";
  for (char c : text) {
    out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  }
  out += "\n\n";
  return out;
}

}  // namespace courier::http
