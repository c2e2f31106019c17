# courier_warnings: an INTERFACE target with courier's warning flags and the
# sanitizer chosen by COURIER_SANITIZE. Link it PRIVATE so that neither leaks
# into projects that consume courier.
add_library(courier_warnings INTERFACE)
target_compile_options(courier_warnings INTERFACE -Wall -Wextra -Wpedantic)

if(COURIER_SANITIZE STREQUAL "address")
  set(courier_sanitize_flags -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
elseif(COURIER_SANITIZE STREQUAL "undefined")
  set(courier_sanitize_flags -fsanitize=undefined -fno-sanitize-recover=undefined)
elseif(COURIER_SANITIZE STREQUAL "thread")
  set(courier_sanitize_flags -fsanitize=thread)
elseif(NOT COURIER_SANITIZE STREQUAL "")
  message(FATAL_ERROR "COURIER_SANITIZE must be address, thread, undefined or empty")
endif()
if(courier_sanitize_flags)
  target_compile_options(courier_warnings INTERFACE ${courier_sanitize_flags})
  target_link_options(courier_warnings INTERFACE ${courier_sanitize_flags})
endif()
