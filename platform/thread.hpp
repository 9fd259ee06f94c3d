// Stage threads: named (<= 15 chars, visible in top/perf), optionally pinned to one CPU, with
// all signals blocked so that only the main thread handles them. And the CPUs the whole process
// runs on ([pipeline] cpus): every thread it has is moved, and a new thread inherits its
// creator's affinity.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

/// The CPUs the calling thread may run on (sched_getaffinity), sorted; empty if unreadable.
std::vector<int> allowed_cpus();

/// The CPUs the process was started with: allowed_cpus() as it was before the first
/// move_process_to_cpus. A config reloaded while a narrower set applies is checked against this
/// one, and "all" goes back to it.
std::vector<int> startup_cpus();

/// Sets the affinity of every thread the process has now to `cpus` (sorted, each < 1024): the
/// calling one, the stage threads, the client libraries' (librdkafka, libcurl, libmicrohttpd)
/// and the kernel's io_uring workers (which take their creator's set when made and keep it);
/// every thread created from then on inherits it from its creator. [pipeline] cpus before each
/// pipeline is made, and "auto" moving a running one. A thread that exits meanwhile is skipped.
/// Returns 0 or the first errno (EINVAL: none of `cpus` is available).
int move_process_to_cpus(const std::vector<int>& cpus);

}  // namespace edgepipe
