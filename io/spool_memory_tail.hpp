// The newest frames of the spool, kept in memory as the batches they were written from. The
// spool thread puts each batch here once it is appended; a sink whose cursor stands exactly at
// that frame, once it is committed, takes the batch from memory instead of reading the frame back
// from disk (pread + CRC + decode: three passes over every byte). A sink that is behind (an
// outage, a retry, a restart) reads the disk as before; nothing here decides what is delivered.
//
// Bounded: at most `max_bytes` of batch arenas (and kMaxEntries batches). The oldest entry goes
// when a new one needs room, and entries every sink has confirmed go at once.
// Ownership: an entry holds one reader reference of its batch; acquire() adds one for the sink;
// whoever drops the last returns the batch to the pool.
// Threading: put() and evict_confirmed() on the spool thread; acquire() and release() on sink
// threads. One mutex, taken once per batch, never per record.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "io/spool_cursor.hpp"

namespace edgepipe {

class spool_memory_tail {
 public:
  static constexpr std::size_t kMaxEntries = 256;

  spool_memory_tail(batch_pool<record_batch>& pool, std::size_t max_bytes)
      : pool_(pool), max_bytes_(max_bytes) {}
  ~spool_memory_tail() { clear(); }
  spool_memory_tail(const spool_memory_tail&) = delete;
  spool_memory_tail& operator=(const spool_memory_tail&) = delete;

  /// Takes over the caller's reader reference of `batch`, appended to the spool at `where`.
  /// With max_bytes = 0 the batch is simply released.
  void put(record_batch* batch, const spool_frame_position& where);
  /// The batch of the frame that starts at `first_id` if it is held and ends at or below
  /// `committed_end`; the caller must release() it. nullptr otherwise.
  record_batch* acquire(std::uint64_t first_id, std::uint64_t committed_end,
                        spool_frame_position& where);
  void release(record_batch* batch);
  /// Drops entries that end at or below `confirmed_end` (every sink has them).
  void evict_confirmed(std::uint64_t confirmed_end);
  void clear();

  // Figures (any thread).
  std::uint64_t hits() const;
  std::size_t bytes() const;

 private:
  struct entry {
    record_batch* batch;
    spool_frame_position where;
  };
  void drop_front();  // mutex held

  batch_pool<record_batch>& pool_;
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::deque<entry> entries_;  // in record-id order
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0;
};

}  // namespace edgepipe
