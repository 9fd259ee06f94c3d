// The CLI's exit codes and the one way it reports a usage or configuration error.
// Threading: main thread only.
#pragma once

#include <cstdio>
#include <string>

namespace edgepipe {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;  // a runtime failure (I/O, a sink that could not start...)
constexpr int kExitConfig = 2;   // usage or configuration error; the message names file and key

/// Prints "edgepipe: MESSAGE" to stderr and returns kExitConfig.
inline int config_error(const std::string& message) {
  std::fprintf(stderr, "edgepipe: %s\n", message.c_str());
  return kExitConfig;
}

/// Prints "edgepipe: MESSAGE" to stderr and returns kExitRuntime.
inline int runtime_error(const std::string& message) {
  std::fprintf(stderr, "edgepipe: %s\n", message.c_str());
  return kExitRuntime;
}

}  // namespace edgepipe
