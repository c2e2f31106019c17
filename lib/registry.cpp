#include "registry.hpp"

#include <array>
#include <atomic>
#include <thread>

namespace courier::detail::registry {

namespace {

std::array<std::atomic<system_core*>, 65536> systems{};
std::atomic<std::uint32_t> next_id{1};

struct hazard {
  std::atomic<system_core*> ptr{nullptr};
  std::atomic<bool> used{false};
  hazard* next = nullptr;
};

// Records are never freed; a thread returns its record when it exits.
std::atomic<hazard*> hazards{nullptr};

hazard* acquire_record() {
  for (hazard* h = hazards.load(std::memory_order_acquire); h != nullptr;
       h = h->next) {
    bool expected = false;
    if (!h->used.load(std::memory_order_relaxed) &&
        h->used.compare_exchange_strong(expected, true)) {
      return h;
    }
  }
  auto* h = new hazard;  // NOLINT(cppcoreguidelines-owning-memory)
  h->used.store(true, std::memory_order_relaxed);
  hazard* head = hazards.load(std::memory_order_relaxed);
  do {
    h->next = head;
  } while (!hazards.compare_exchange_weak(head, h, std::memory_order_release,
                                          std::memory_order_relaxed));
  return h;
}

struct thread_record {
  hazard* h = nullptr;
  ~thread_record() {
    if (h != nullptr) {
      h->ptr.store(nullptr, std::memory_order_release);
      h->used.store(false, std::memory_order_release);
    }
  }
  hazard* get() {
    if (h == nullptr) {
      h = acquire_record();
    }
    return h;
  }
};

thread_local thread_record my_record;

}  // namespace

std::uint16_t add(system_core* core) {
  for (;;) {
    auto id = static_cast<std::uint16_t>(
        next_id.fetch_add(1, std::memory_order_relaxed));
    if (id == 0) {
      continue;
    }
    system_core* expected = nullptr;
    if (systems[id].compare_exchange_strong(expected, core)) {
      return id;
    }
  }
}

void remove(std::uint16_t id, system_core* core) noexcept {
  systems[id].store(nullptr, std::memory_order_seq_cst);
  for (hazard* h = hazards.load(std::memory_order_acquire); h != nullptr;
       h = h->next) {
    while (h->ptr.load(std::memory_order_seq_cst) == core) {
      std::this_thread::yield();
    }
  }
}

guard::guard(std::uint16_t id) noexcept {
  auto* h = my_record.get();
  record_ = h;
  previous_ = h->ptr.load(std::memory_order_relaxed);
  system_core* p = systems[id].load(std::memory_order_acquire);
  for (;;) {
    h->ptr.store(p, std::memory_order_seq_cst);
    system_core* again = systems[id].load(std::memory_order_seq_cst);
    if (again == p) {
      break;
    }
    p = again;
  }
  core_ = p;
}

guard::~guard() {
  static_cast<hazard*>(record_)->ptr.store(previous_,
                                           std::memory_order_release);
}

}  // namespace courier::detail::registry
