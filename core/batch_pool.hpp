// A free list of batches shared by the stages that produce and retire them. Taking or returning
// a batch costs one uncontended mutex per batch (never per record). Batches whose arena grew
// beyond `keep_bytes` are trimmed on return so one oversized payload does not pin memory.
// Threading: any thread.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

namespace edgepipe {

template <class Batch>
class batch_pool {
 public:
  explicit batch_pool(std::size_t keep_bytes = std::size_t{8} << 20) : keep_bytes_(keep_bytes) {}
  ~batch_pool() {
    for (Batch* b : free_) delete b;
  }
  batch_pool(const batch_pool&) = delete;
  batch_pool& operator=(const batch_pool&) = delete;

  Batch* acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        Batch* b = free_.back();
        free_.pop_back();
        return b;
      }
      ++created_;
    }
    return new Batch();
  }

  void release(Batch* b) {
    b->clear();
    b->trim(keep_bytes_);
    std::lock_guard lock(mutex_);
    free_.push_back(b);
  }

  /// Batches ever allocated: bounded by ring capacities + one per stage in a healthy pipeline.
  std::size_t created() const {
    std::lock_guard lock(mutex_);
    return created_;
  }

 private:
  const std::size_t keep_bytes_;
  mutable std::mutex mutex_;
  std::vector<Batch*> free_;
  std::size_t created_ = 0;
};

}  // namespace edgepipe
