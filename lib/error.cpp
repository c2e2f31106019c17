#include "courier/error.hpp"

#include <string>

namespace courier {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "courier"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ask_timeout:
        return "no reply before the ask's deadline";
      case errc::target_dead:
        return "the target actor is dead or stopped before answering";
      case errc::handler_threw:
        return "the handler threw an exception";
      case errc::no_handler:
        return "the target has no handler for this message type";
      case errc::blocking_on_loop:
        return "blocking wait on a loop thread";
      case errc::system_stopped:
        return "the actor system is stopped";
      case errc::bad_reply_type:
        return "the reply has another type than the ask expected";
      case errc::broken_promise:
        return "the request was dropped without an answer";
      case errc::mailbox_full:
        return "the target's mailbox is full";
    }
    return "unknown courier error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace courier
