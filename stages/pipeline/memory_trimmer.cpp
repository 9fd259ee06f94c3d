#include "stages/pipeline/memory_trimmer.hpp"

#include <algorithm>
#include <chrono>

#include "platform/clock.hpp"
#include "platform/heap.hpp"
#include "platform/thread.hpp"

namespace edgepipe {

void memory_trimmer::start() {
  if (idle_ns_ == 0 || thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = start_stage_thread({"mem:trim", std::nullopt}, [this] { run(); });
}

void memory_trimmer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void memory_trimmer::run() {
  const auto look_every =
      std::chrono::nanoseconds(std::clamp<std::uint64_t>(idle_ns_ / 4, 1'000'000, 1'000'000'000));
  std::uint64_t seen = payloads_.acquired() + records_.acquired();
  std::uint64_t active_ns = mono_now_ns();
  bool trimmed = false;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, look_every, [this] { return stopping_; });
    if (stopping_) break;
    const std::uint64_t now_seen = payloads_.acquired() + records_.acquired();
    const std::uint64_t now = mono_now_ns();
    if (now_seen != seen) {
      seen = now_seen;
      active_ns = now;
      trimmed = false;
      continue;
    }
    if (trimmed || now - active_ns < idle_ns_) continue;
    const std::size_t freed = payloads_.trim() + records_.trim();
    (void)give_back_free_heap();
    pool_bytes_freed_.fetch_add(freed, std::memory_order_relaxed);
    trims_.fetch_add(1, std::memory_order_relaxed);
    trimmed = true;
  }
}

}  // namespace edgepipe
