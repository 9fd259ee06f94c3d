// Stage threads: named (<= 15 chars, visible in top/perf), optionally pinned to one CPU, with
// all signals blocked so that only the main thread handles them.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace edgepipe {

struct thread_options {
  std::string name;        // truncated to 15 characters by the kernel
  std::optional<int> cpu;  // nullopt = not pinned
};

/// Starts `body` on a new thread with the given name and pinning. Pinning failures (e.g. a CPU
/// that does not exist) are reported on stderr once and the thread runs unpinned.
std::thread start_stage_thread(thread_options options, std::function<void()> body);

/// Blocks all signals in the calling thread (new threads inherit the mask).
void block_all_signals() noexcept;

/// Number of CPUs this process may run on.
int available_cpus() noexcept;

}  // namespace edgepipe
