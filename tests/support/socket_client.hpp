// A blocking TCP client for tests of the HTTP edge: raw requests, reads
// bounded by a deadline, Content-Length framed replies.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace courier::test {

// A blocking client socket with a receive deadline per call.
class client {
 public:
  explicit client(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                   sizeof(receive_buffer));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  bool ok() const { return ok_; }

  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until `pred(buffer)` holds, the peer closes, or the deadline.
  template <class Pred>
  bool read_until(Pred pred, std::chrono::milliseconds deadline =
                                 std::chrono::milliseconds(10000)) {
    using clock_type = std::chrono::steady_clock;
    auto end = clock_type::now() + deadline;
    while (!pred(buf_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - clock_type::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return false;
      }
      char tmp[16384];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) {
        closed_ = true;
        return pred(buf_);
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    return true;
  }

  /// Appends what the socket holds now, without waiting; false if nothing.
  bool read_now() {
    bool any = false;
    char tmp[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), MSG_DONTWAIT);
      if (n <= 0) {
        closed_ = closed_ || n == 0;
        return any;
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
      any = true;
    }
  }

  struct reply {
    int status = 0;
    std::string head;  // status line + headers
    std::string body;
    bool complete = false;
    std::string header(std::string_view name) const {
      std::string lower_head;
      for (char c : head) {
        lower_head.push_back(static_cast<char>(std::tolower(c)));
      }
      std::string key = "\r\n";
      for (char c : name) {
        key.push_back(static_cast<char>(std::tolower(c)));
      }
      key += ": ";
      std::size_t i = lower_head.find(key);
      if (i == std::string::npos) {
        return {};
      }
      i += key.size();
      return head.substr(i, head.find("\r\n", i) - i);
    }
  };

  // Reads one response (Content-Length framed; HEAD: no body).
  reply read_reply(
      bool head_request = false,
      std::chrono::milliseconds deadline = std::chrono::milliseconds(10000)) {
    reply r;
    if (!read_until(
            [](const std::string& b) {
              return b.find("\r\n\r\n") != std::string::npos;
            },
            deadline)) {
      return r;
    }
    std::size_t end = buf_.find("\r\n\r\n");
    r.head = buf_.substr(0, end);
    r.status = std::atoi(r.head.c_str() + 9);
    std::size_t len = 0;
    std::string cl = r.header("Content-Length");
    if (!cl.empty() && !head_request) {
      len = std::stoul(cl);
    }
    if (!read_until(
            [&](const std::string& b) { return b.size() >= end + 4 + len; },
            deadline)) {
      return r;
    }
    r.body = buf_.substr(end + 4, len);
    buf_.erase(0, end + 4 + len);
    r.complete = true;
    return r;
  }

  // The bytes read and not consumed yet; take() consumes them.
  const std::string& buffer() const noexcept { return buf_; }
  std::string take() {
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }
  bool closed() const noexcept { return closed_; }
  int fd() const noexcept { return fd_; }

  // True when the server closed the connection (within the deadline).
  bool closed_by_peer(
      std::chrono::milliseconds deadline = std::chrono::milliseconds(10000)) {
    read_until([this](const std::string&) { return closed_; }, deadline);
    return closed_;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  bool closed_ = false;
  std::string buf_;
};

}  // namespace courier::test
