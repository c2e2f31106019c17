#pragma once

// Forward declarations of courier's public types.

typedef struct uv_loop_s uv_loop_t;

namespace courier {

class actor;
class actor_ref;
class ask_error;
class behavior;
class system;
class timer;
struct ask_options;
struct metrics;
struct spawn_options;
struct system_config;
struct unit;

template <class R>
class ask_result;
template <class R>
class pending_ask;
template <class R>
class response_promise;

namespace detail {
class envelope;
class system_core;
class loop;
class ask_state_base;
struct actor_access;
struct timer_access;
struct pending_ask_access;
}  // namespace detail

}  // namespace courier
