#include "platform/thread.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <cstdio>
#include <cstring>

namespace edgepipe {

void block_all_signals() noexcept {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

int available_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
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
