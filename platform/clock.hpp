// Clocks: wall time for record timestamps, monotonic time for latencies and pacing, the
// process's CPU time for what a run cost (the replay summary's cpu_seconds).
#pragma once

#include <time.h>

#include <cstdint>

namespace edgepipe {

inline std::int64_t unix_now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::uint64_t mono_now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

/// CPU time of the whole process (every thread, the client libraries' included), user and system.
inline std::uint64_t process_cpu_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace edgepipe
