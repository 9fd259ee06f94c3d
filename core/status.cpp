#include "core/status.hpp"

#include <cstring>

namespace edgepipe {
std::string errno_message(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}
}  // namespace edgepipe
