// EDGEPIPE_ASSERT: an invariant check that stays on in release builds. The failure path is cold
// and out of line so the check costs one predictable branch on hot paths.
#pragma once

namespace edgepipe::detail {
[[noreturn, gnu::cold, gnu::noinline]] void assert_failed(const char* expr, const char* file,
                                                          int line, const char* msg) noexcept;
}  // namespace edgepipe::detail

#define EDGEPIPE_ASSERT(expr, msg)                                         \
  do {                                                                     \
    if (__builtin_expect(!(expr), 0)) [[unlikely]]                         \
      ::edgepipe::detail::assert_failed(#expr, __FILE__, __LINE__, (msg)); \
  } while (0)
