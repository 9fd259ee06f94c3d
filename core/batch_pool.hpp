// A free list of batches shared by the stages that produce and retire them. Taking or returning
// a batch costs one uncontended mutex per batch (never per record). Memory is bounded in bytes:
// a batch whose arena grew beyond `keep_bytes` is trimmed on return (one oversized payload does
// not pin memory), the free list holds at most `max_free_bytes` (a batch returned beyond it is
// freed), and trim() frees the whole free list (after an idle period). Batches in use are
// bounded by the rings that carry them, not here.
// Threading: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace edgepipe {

template <class Batch>
class batch_pool {
 public:
  static constexpr std::size_t kDefaultKeepBytes = std::size_t{8} << 20;
  static constexpr std::size_t kUnbounded = ~std::size_t{0};

  explicit batch_pool(std::size_t keep_bytes = kDefaultKeepBytes,
                      std::size_t max_free_bytes = kUnbounded)
      : keep_bytes_(keep_bytes), max_free_bytes_(max_free_bytes) {}
  ~batch_pool() {
    for (Batch* b : free_) delete b;
  }
  batch_pool(const batch_pool&) = delete;
  batch_pool& operator=(const batch_pool&) = delete;

  /// runs on: main thread, before any batch is taken.
  void set_max_free_bytes(std::size_t bytes) { max_free_bytes_ = bytes; }

  Batch* acquire() {
    {
      std::lock_guard lock(mutex_);
      ++acquired_;
      if (!free_.empty()) {
        Batch* b = free_.back();
        free_.pop_back();
        free_bytes_ -= b->memory_bytes();
        return b;
      }
      ++created_;
    }
    return new Batch();
  }

  void release(Batch* b) {
    b->clear();
    b->trim(keep_bytes_);
    const std::size_t bytes = b->memory_bytes();
    {
      std::lock_guard lock(mutex_);
      if (free_bytes_ + bytes <= max_free_bytes_) {
        free_.push_back(b);
        free_bytes_ += bytes;
        return;
      }
      ++freed_;
    }
    delete b;  // over the budget: outside the lock
  }

  /// Frees every batch in the free list; returns the bytes they held.
  std::size_t trim() {
    std::vector<Batch*> doomed;
    std::size_t bytes = 0;
    {
      std::lock_guard lock(mutex_);
      doomed.swap(free_);
      bytes = free_bytes_;
      free_bytes_ = 0;
      freed_ += doomed.size();
    }
    for (Batch* b : doomed) delete b;
    return bytes;
  }

  /// Batches ever allocated: bounded by ring capacities + one per stage in a healthy pipeline
  /// (plus those allocated again after being freed over the budget or by trim()).
  std::size_t created() const {
    std::lock_guard lock(mutex_);
    return created_;
  }
  /// Bytes held by the free list now (never above max_free_bytes).
  std::size_t free_bytes() const {
    std::lock_guard lock(mutex_);
    return free_bytes_;
  }
  std::size_t free_batches() const {
    std::lock_guard lock(mutex_);
    return free_.size();
  }
  /// Batches freed (over the budget, or by trim()).
  std::size_t freed() const {
    std::lock_guard lock(mutex_);
    return freed_;
  }
  /// acquire() calls so far: unchanged over a while means the pipeline is idle.
  std::uint64_t acquired() const {
    std::lock_guard lock(mutex_);
    return acquired_;
  }

 private:
  const std::size_t keep_bytes_;
  std::size_t max_free_bytes_;
  mutable std::mutex mutex_;
  std::vector<Batch*> free_;
  std::size_t free_bytes_ = 0;
  std::size_t created_ = 0;
  std::size_t freed_ = 0;
  std::uint64_t acquired_ = 0;
};

}  // namespace edgepipe
