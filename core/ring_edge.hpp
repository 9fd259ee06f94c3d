// One edge of the pipeline graph: a bounded SPSC ring of batch pointers plus the waiting rules.
// When full, push() blocks the producer (counted as a stall); when empty, pop() blocks the
// consumer; close() (producer side) lets the consumer drain what is left and then see the end.
// Threading: one producer thread (push, close), one consumer thread (pop, try_pop).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/spsc_ring.hpp"
#include "core/waiter.hpp"

namespace edgepipe {

template <class T>
class ring_edge {
 public:
  /// `consumer_waiter`: share one wake-up channel among several edges read by the same
  /// consumer thread (a stage with several inputs); nullptr = this edge's own.
  explicit ring_edge(std::size_t capacity, waiter* consumer_waiter = nullptr)
      : ring_(capacity), not_empty_(consumer_waiter ? *consumer_waiter : own_not_empty_) {}

  /// runs on: producer thread. Blocks while full. Returns false only if the consumer abandoned
  /// the edge (abandon()), in which case the caller still owns `value`.
  bool push(T value) {
    if (ring_.try_push(value)) {
      not_empty_.notify();
      return true;
    }
    stalls_.fetch_add(1, std::memory_order_relaxed);
    for (;;) {
      not_full_.wait(
          [&] { return abandoned_.load(std::memory_order_acquire) || !ring_.full_for_producer(); });
      if (abandoned_.load(std::memory_order_acquire)) return false;
      if (ring_.try_push(value)) {
        not_empty_.notify();
        return true;
      }
    }
  }

  /// runs on: consumer thread. Blocks until a value arrives (true) or the edge is closed and
  /// drained (false), or the timeout passes (false, with timed_out set).
  bool pop(T& out, std::chrono::nanoseconds timeout = waiter::kForever, bool* timed_out = nullptr) {
    if (timed_out) *timed_out = false;
    for (;;) {
      if (ring_.try_pop(out)) {
        not_full_.notify();
        return true;
      }
      if (closed_.load(std::memory_order_acquire)) {
        // The close happened after the last push: one more look drains a racing push.
        if (ring_.try_pop(out)) {
          not_full_.notify();
          return true;
        }
        return false;
      }
      const bool ready = not_empty_.wait(
          [&] { return closed_.load(std::memory_order_acquire) || !ring_.empty_for_consumer(); },
          timeout);
      if (!ready) {
        if (timed_out) *timed_out = true;
        return false;
      }
    }
  }

  /// runs on: consumer thread. Sleeps on the (possibly shared) consumer waiter until ready().
  template <class Ready>
  void wait_any(Ready&& ready) {
    not_empty_.wait(std::forward<Ready>(ready));
  }

  /// runs on: consumer thread. Never blocks.
  bool try_pop(T& out) {
    if (!ring_.try_pop(out)) return false;
    not_full_.notify();
    return true;
  }

  /// runs on: consumer thread. True when nothing is queued right now.
  bool empty() noexcept { return ring_.empty_for_consumer(); }

  /// runs on: producer thread. No push may follow.
  void close() noexcept {
    closed_.store(true, std::memory_order_release);
    not_empty_.notify();
    not_empty_.wake();
  }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  /// runs on: consumer thread, when it exits early; unblocks a producer stuck on a full ring.
  void abandon() noexcept {
    abandoned_.store(true, std::memory_order_release);
    not_full_.wake();
  }

  /// runs on: producer thread. True when the consumer has nothing queued (it is idle or about
  /// to be): the producer's cue to hand on a partly filled batch instead of waiting to fill it.
  bool empty_hint() const noexcept { return ring_.size_approx() == 0; }

  std::uint64_t stalls() const noexcept { return stalls_.load(std::memory_order_relaxed); }
  std::size_t occupancy() const noexcept { return ring_.size_approx(); }
  std::size_t capacity() const noexcept { return ring_.capacity(); }

 private:
  spsc_ring<T> ring_;
  waiter own_not_empty_;
  waiter& not_empty_;
  waiter not_full_;
  alignas(kCacheLine) std::atomic<bool> closed_{false};
  std::atomic<bool> abandoned_{false};
  std::atomic<std::uint64_t> stalls_{0};
};

}  // namespace edgepipe
