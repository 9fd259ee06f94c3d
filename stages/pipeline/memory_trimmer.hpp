// The thread "mem:trim": gives memory back once the pipeline has been idle for [pipeline]
// idle_trim. Idle means no batch was taken from either pool since the last look (one look per
// quarter of idle_trim, at most one a second); then the pools' free batches are freed and
// malloc_trim returns the heap's free pages, once per idle period. Buffers that belong to one
// thread (the spool's write buffers) are trimmed by that thread (stages/spool/spool_stage).
// Threading: start()/stop() on the main thread; the counters from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"

namespace edgepipe {

class memory_trimmer {
 public:
  memory_trimmer(std::uint64_t idle_ns, batch_pool<payload_batch>& payloads,
                 batch_pool<record_batch>& records)
      : idle_ns_(idle_ns), payloads_(payloads), records_(records) {}
  ~memory_trimmer() { stop(); }
  memory_trimmer(const memory_trimmer&) = delete;
  memory_trimmer& operator=(const memory_trimmer&) = delete;

  /// Starts the thread (nothing when idle_ns is 0).
  void start();
  /// Wakes and joins the thread. Safe to call twice.
  void stop();

  /// Idle periods that were trimmed, and the bytes freed from the pools in them.
  std::uint64_t trims() const noexcept { return trims_.load(std::memory_order_relaxed); }
  std::uint64_t pool_bytes_freed() const noexcept {
    return pool_bytes_freed_.load(std::memory_order_relaxed);
  }

 private:
  void run();

  const std::uint64_t idle_ns_;
  batch_pool<payload_batch>& payloads_;
  batch_pool<record_batch>& records_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // mutex_
  std::thread thread_;
  std::atomic<std::uint64_t> trims_{0};
  std::atomic<std::uint64_t> pool_bytes_freed_{0};
};

}  // namespace edgepipe
