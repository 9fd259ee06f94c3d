// The newest frames of the spool, kept in memory as the batches they were written from. The
// spool thread puts each batch here once it is appended; a sink whose cursor stands exactly at
// that frame, once it is committed, takes the batch from memory instead of reading the frame back
// from disk (pread + CRC + decode: three passes over every byte). A sink that is behind (an
// outage, a retry, a restart) reads the disk as before; nothing here decides what is delivered.
//
// Bounded: at most `max_bytes` of batch arenas (and kMaxEntries batches). The oldest entry goes
// when a new one needs room, and entries every sink has taken or confirmed go at once.
// Backpressure before spilling: the tail knows where each sink reading from it stands (its
// next frame, from acquire()). When the entry about to go is the next one of such a following
// sink, the spool thread first waits (bounded, stages/spool/spool_stage) for that sink to take it,
// so a sink slower than the transform slows the pipeline down, as the rings do without a
// spool, instead of falling off the tail and reading every frame back from the disk.
// Ownership: an entry holds one reader reference of its batch; acquire() adds one for the sink;
// whoever drops the last returns the batch to the pool.
// Threading: put() and evict_done() on the spool thread; acquire() and release() on sink
// threads. One mutex, taken once per batch, never per record.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/waiter.hpp"
#include "stages/spool/spool_cursor.hpp"

namespace edgepipe {

class spool_memory_tail {
 public:
  static constexpr std::size_t kMaxEntries = 256;

  /// `sinks`: how many sinks call acquire() (their index is the spool's sink index).
  spool_memory_tail(batch_pool<record_batch>& pool, std::size_t max_bytes, std::size_t sinks = 0)
      : pool_(pool), max_bytes_(max_bytes), next_(sinks, kNotFollowing) {}
  ~spool_memory_tail() { clear(); }
  spool_memory_tail(const spool_memory_tail&) = delete;
  spool_memory_tail& operator=(const spool_memory_tail&) = delete;

  /// Takes over the caller's reader reference of `batch`, appended to the spool at `where`.
  /// With max_bytes = 0 the batch is simply released.
  void put(record_batch* batch, const spool_frame_position& where);
  /// The batch of the frame that starts at `first_id` if it is held and ends at or below
  /// `committed_end`; the caller must release() it. nullptr otherwise. Also notes that `sink`
  /// (index < sinks) now wants the frame at `first_id`, or the one after it on success.
  record_batch* acquire(std::size_t sink, std::uint64_t first_id, std::uint64_t committed_end,
                        spool_frame_position& where);
  /// `sink` will first ask for the frame at `first_id` (where it starts reading).
  void expect(std::size_t sink, std::uint64_t first_id);
  /// True when putting a batch of `bytes` now would evict an entry that a sink following the
  /// tail has not taken yet (the spool thread then waits for it, bounded). `wanted_end` gets
  /// the end id of the last such entry: it must be committed before the sink can take it.
  bool would_evict_wanted(std::size_t bytes, std::uint64_t& wanted_end) const;
  /// Blocks until a sink takes a batch (acquire() succeeds) or `timeout` passes.
  void wait_for_take(std::chrono::nanoseconds timeout) { wait_for_take(hits(), timeout); }
  /// Blocks until hits() differs from `seen_hits` (a take after the caller read hits()) or
  /// `timeout` passes: no take between that read and this call is missed.
  void wait_for_take(std::uint64_t seen_hits, std::chrono::nanoseconds timeout);
  void release(record_batch* batch);
  /// Drops the oldest entries every sink is done with: they end at or below `confirmed_end`
  /// (every sink confirmed them), or every sink has taken them (a sink's retry reads the disk).
  /// Holding taken batches until they were confirmed kept the tail full (32 MiB) in steady
  /// state: that many more batches in the pool, each touched fresh by the transform.
  void evict_done(std::uint64_t confirmed_end);
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
  static constexpr std::uint64_t kNotFollowing = ~std::uint64_t{0};

  batch_pool<record_batch>& pool_;
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::deque<entry> entries_;  // in record-id order
  std::size_t bytes_ = 0;
  std::atomic<std::uint64_t> hits_{0};  // also the condition wait_for_take() waits on
  // Per sink: the id of the next frame it wants (kNotFollowing until it first asks).
  std::vector<std::uint64_t> next_;
  waiter taken_;
};

}  // namespace edgepipe
