// Bounded lock-free single-producer/single-consumer ring with cached indices (after
// rigtorp/SPSCQueue). It carries pointers to batches, never single records.
// Threading: exactly one producer thread calls try_push, exactly one consumer thread calls
// try_pop/front; size_approx may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <type_traits>

#include "core/cache_line.hpp"

namespace edgepipe {

template <class T>
class spsc_ring {
  static_assert(std::is_trivially_copyable_v<T>, "the ring moves plain values (batch pointers)");

 public:
  /// capacity is rounded up to a power of two (at least 2).
  explicit spsc_ring(std::size_t capacity)
      : mask_(round_up_pow2(capacity < 2 ? 2 : capacity) - 1),
        slots_(std::make_unique<T[]>(mask_ + 1)) {}

  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  /// runs on: producer thread. False when full.
  bool try_push(T value) noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ > mask_) return false;
    }
    slots_[tail & mask_] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  /// runs on: consumer thread. False when empty.
  bool try_pop(T& out) noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == cached_tail_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head == cached_tail_) return false;
    }
    out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  /// runs on: consumer thread.
  bool empty_for_consumer() noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head != cached_tail_) return false;
    cached_tail_ = tail_.load(std::memory_order_acquire);
    return head == cached_tail_;
  }

  /// runs on: producer thread.
  bool full_for_producer() noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ <= mask_) return false;
    cached_head_ = head_.load(std::memory_order_acquire);
    return tail - cached_head_ > mask_;
  }

  /// runs on: any thread; a snapshot that may be stale by the time it returns.
  std::size_t size_approx() const noexcept {
    const std::size_t head = head_.load(std::memory_order_acquire);
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    return tail - head;
  }
  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  static std::size_t round_up_pow2(std::size_t v) noexcept {
    std::size_t p = 1;
    while (p < v) p <<= 1;
    return p;
  }

  // Consumer-owned line: its index and its cached copy of the producer's index.
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
  std::size_t cached_tail_ = 0;
  // Producer-owned line.
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  std::size_t cached_head_ = 0;
  // Read-only after construction.
  alignas(kCacheLine) const std::size_t mask_;
  const std::unique_ptr<T[]> slots_;
};

static_assert(sizeof(spsc_ring<void*>) == 3 * kCacheLine, "one cache line per side + shared");

}  // namespace edgepipe
