#include "core/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace edgepipe::detail {
void assert_failed(const char* expr, const char* file, int line, const char* msg) noexcept {
  std::fprintf(stderr, "edgepipe: assertion failed: %s (%s) at %s:%d\n", expr, msg, file, line);
  std::fflush(stderr);
  std::abort();
}
}  // namespace edgepipe::detail
