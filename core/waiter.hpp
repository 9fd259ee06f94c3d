// A wake-up channel for waiting threads: spin briefly, then yield, then block on a futex, so
// a busy pipeline hands off without syscalls and an idle one uses no CPU, and the pipeline works
// with more threads than cores. While the process runs on one CPU (set_spinning(false), from
// [pipeline] cpus) a waiter blocks at once: the thread that would make its condition true cannot
// run meanwhile, so spinning only delays it.
// Threading: any number of threads may wait at once (every sink waits on the spool's commit
// waiter) and any thread may notify; notify() wakes them all. It costs one atomic
// read-modify-write unless a waiter sleeps, in which case it also costs one futex wake syscall.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/cache_line.hpp"

namespace edgepipe {

namespace detail {
/// Blocks while *word == expected, at most `timeout` (negative = forever). Spurious returns ok.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>* word) noexcept;
inline void cpu_relax() noexcept { __builtin_ia32_pause(); }
void thread_yield() noexcept;
}  // namespace detail

class waiter {
 public:
  static constexpr int kSpins = 64;
  static constexpr int kYields = 4;
  static constexpr std::chrono::nanoseconds kForever{-1};

  /// Any thread: whether wait() spins and yields before it blocks (the default) or blocks at once.
  /// Spinning pays only while the notifying thread runs at the same time on another CPU; with
  /// every thread on one CPU, 64 pauses (~3 us on a Xeon) per wait were a fifth of a paced
  /// payload's path (benchmarks/README.md, 2026-12-07 evening).
  static void set_spinning(bool on) noexcept { spinning_.store(on, std::memory_order_relaxed); }
  static bool spinning() noexcept { return spinning_.load(std::memory_order_relaxed); }

  /// runs on: the thread that made the condition true, after publishing it.
  void notify() noexcept {
    // A read-modify-write on sleepers_ (not a fence: ThreadSanitizer cannot check fences).
    // Both sides RMW the same word, so either we see the sleeper's increment, or the sleeper's
    // increment synchronises with ours and its ready() check sees our publication.
    if (sleepers_.fetch_add(0, std::memory_order_acq_rel) != 0) {
      epoch_.fetch_add(1, std::memory_order_release);
      detail::futex_wake_all(&epoch_);
    }
  }

  /// runs on: the waiting thread. Returns true once ready() holds, false on timeout.
  template <class Ready>
  bool wait(Ready&& ready, std::chrono::nanoseconds timeout = kForever) {
    if (spinning()) {
      for (int i = 0; i < kSpins; ++i) {
        if (ready()) return true;
        detail::cpu_relax();
      }
      for (int i = 0; i < kYields; ++i) {
        if (ready()) return true;
        detail::thread_yield();
      }
    }
    const bool forever = timeout.count() < 0;
    const auto deadline = std::chrono::steady_clock::now() + (forever ? timeout.zero() : timeout);
    for (;;) {
      const std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      if (ready()) {
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
      std::chrono::nanoseconds left = kForever;
      if (!forever) {
        left = deadline - std::chrono::steady_clock::now();
        if (left.count() <= 0) {
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          return false;
        }
      }
      detail::futex_wait(&epoch_, epoch, left);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (ready()) return true;
    }
  }

  /// Wakes the waiter unconditionally (used to deliver stop requests).
  void wake() noexcept {
    epoch_.fetch_add(1, std::memory_order_release);
    detail::futex_wake_all(&epoch_);
  }

 private:
  alignas(kCacheLine) static inline std::atomic<bool> spinning_{true};  // read by every wait()
  alignas(kCacheLine) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> sleepers_{0};
};

}  // namespace edgepipe
