#include "platform/thread.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

namespace edgepipe {

void block_all_signals() noexcept {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &set)) cpus.push_back(cpu);
  return cpus;
}

namespace {

std::mutex startup_mutex;
std::optional<std::vector<int>> startup_set;  // recorded by the first move_process_to_cpus

cpu_set_t to_cpu_set(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus)
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(static_cast<std::size_t>(cpu), &set);
  return set;
}

}  // namespace

std::vector<int> startup_cpus() {
  const std::lock_guard lock(startup_mutex);
  return startup_set ? *startup_set : allowed_cpus();
}

int move_process_to_cpus(const std::vector<int>& cpus) {
  const cpu_set_t set = to_cpu_set(cpus);
  const std::lock_guard lock(startup_mutex);
  if (!startup_set) startup_set = allowed_cpus();
  // The calling thread first: it reports a set none of whose CPUs is available.
  if (sched_setaffinity(0, sizeof(set), &set) != 0) return errno;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const pid_t tid = std::atoi(task.path().filename().c_str());
    if (tid <= 0 || tid == gettid()) continue;
    if (sched_setaffinity(tid, sizeof(set), &set) != 0 && errno != ESRCH) return errno;
  }
  return ec ? ec.value() : 0;
}

std::thread start_stage_thread(thread_options options, std::function<void()> body) {
  return std::thread([options = std::move(options), body = std::move(body)] {
    block_all_signals();
    const std::string name = options.name.substr(0, 15);
    pthread_setname_np(pthread_self(), name.c_str());
    if (options.cpu) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<std::size_t>(*options.cpu), &set);
      if (const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); rc != 0) {
        std::fprintf(stderr, "edgepipe: thread %s: cannot pin to cpu %d: %s (running unpinned)\n",
                     name.c_str(), *options.cpu, std::strerror(rc));
      }
    }
    body();
  });
}

}  // namespace edgepipe
