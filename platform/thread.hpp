// Stage threads: named (<= 15 chars, visible in top/perf), optionally pinned to one CPU, with
// all signals blocked so that only the main thread handles them. And the CPUs the whole process
// runs on ([pipeline] cpus): a new thread inherits its creator's affinity, so setting the main
// thread's before it creates any other confines every thread of the process.
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
/// restrict_process_cpus. A config reloaded while a narrower set applies is checked against
/// this one, and "all" goes back to it.
std::vector<int> startup_cpus();

/// Sets the calling thread's affinity to `cpus` (sorted, each < 1024); every thread it creates
/// from then on inherits it, and the threads those create, and so on. Called on the main thread
/// before the pipeline's threads exist, it confines the whole process: the stage threads, the
/// client libraries' (librdkafka, libcurl) and the kernel's io_uring workers. The calling
/// thread's existing io_uring workers, which would keep their set, get the new one too. Returns 0
/// or the errno (EINVAL: none of `cpus` is available).
int restrict_process_cpus(const std::vector<int>& cpus);

}  // namespace edgepipe
