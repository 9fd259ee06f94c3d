// The spool thread ("spool"): takes record batches from the transform, appends them to the spool
// (stages/spool/spool_appender), makes them visible to the sinks as soon as they are written (when
// the input ring runs dry: copied into the page cache, spool_appender::expose; after a full
// batch, only if no batch follows within kExposeDeferNs: at full speed the bytes exposed were
// written a second time with the full buffer, 0.88x the throughput), commits them by
// group for durability (one commit when the input ring runs dry or every 8 MiB; fdatasync as the
// fsync policy says, in the background while appends go on), deletes
// segments every sink has confirmed, and applies the disk limit: `block` waits for the sinks (the
// rings fill, the sources wait), or `drop_oldest` deletes the oldest segment and counts what the
// sinks lose. Threading: run() is the thread body. abandon() may be called from any thread
// (shutdown deadline): batches still arriving are then counted as not spooled and released.
// Rule: never wait on the disk while batches may arrive. A wait longer than the transform's ring
// holds (ring_capacity batches, a few ms at full speed) puts the transform to sleep, so syncs, a
// roll's last sync of the old segment, the new segment's directory fsync and the unlinks of
// confirmed segments all run in the background (stages/spool/spool_appender,
// stages/spool/spool_janitor); only the disk limit, a forced commit and the final close wait.
// Backpressure before spilling (stages/spool/spool_memory_tail): when the memory tail is full and
// its oldest batch is the next one a sink reading from memory wants, the spool thread waits for
// that sink to take it (at most kFollowerWait, syncs still reaped meanwhile) instead of evicting
// it: a sink slower than the transform then slows the pipeline down, as without a spool, rather
// than falling behind and reading every frame back from the disk (pread + CRC + decode on the box's
// busiest core). A sink that does not take it in time (an outage, a stall) is left behind and
// reads the disk; the others keep flowing.
// Disk errors (docs/durability.md): a failed write, fdatasync or segment open never releases a
// record unspooled. The spool thread stops taking batches (the rings fill, the sources wait),
// keeps every batch not yet published, and retries with backoff: it cuts the unpublished frames
// off the spool, opens a new segment and appends them again. ENOSPC falls under on_full: block
// waits for the sinks to free space, drop_oldest drops the oldest segments (counted). Until the
// retry succeeds, fault() names the file and errno (/health not ready).
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "core/stage_counters.hpp"
#include "stages/spool/append_clock.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_appender.hpp"
#include "stages/spool/spool_memory_tail.hpp"

namespace edgepipe {

class spool_stage {
 public:
  spool_stage(spool& s, std::vector<std::string> sources, std::size_t ring_capacity,
              batch_pool<record_batch>& pool, stage_counters& counters);
  ring_edge<record_batch*>& input() noexcept { return input_; }
  const ring_edge<record_batch*>& input() const noexcept { return input_; }
  /// runs on: main thread, before start. Opens the first segment of this run.
  status open();
  /// runs on: the spool thread.
  void run();
  /// Any thread.
  void abandon() noexcept;
  /// runs on: main thread, before start. After `ns` without a batch the spool thread gives back
  /// its unused write buffers ([pipeline] idle_trim; 0 = never).
  void set_idle_trim(std::uint64_t ns) noexcept { idle_trim_ns_ = ns; }
  /// runs on: main thread, before start. A batch of at least `records` records or `bytes` bytes
  /// is one the transform handed on because it was full (not because its input went idle):
  /// more follow at once, so the spool defers exposing it (kExposeDeferNs; see run()). Unset:
  /// every batch is exposed as soon as the input is idle.
  void set_full_batch(std::size_t records, std::size_t bytes) noexcept {
    full_batch_records_ = records;
    full_batch_bytes_ = bytes;
  }
  /// How long the spool waits for the next batch after a full one before exposing it.
  static constexpr std::uint64_t kExposeDeferNs = 1'000'000;

  const spool_appender& appender() const noexcept { return appender_; }
  /// The newest batches, for the sinks (stages/spool/spool_memory_tail).
  spool_memory_tail& memory_tail() noexcept { return tail_; }
  const spool_memory_tail& memory_tail() const noexcept { return tail_; }
  std::uint64_t full_waits() const noexcept { return full_waits_.load(); }
  bool blocked() const noexcept { return blocked_.load(); }
  std::uint64_t not_spooled() const noexcept { return not_spooled_.load(); }
  /// Backpressure: times the spool thread waited for a sink to take the tail's oldest batch,
  /// for how long in all, and how many of those waits ran out (a sink was left behind).
  std::uint64_t follower_waits() const noexcept { return follower_waits_.load(); }
  std::uint64_t follower_wait_ns() const noexcept { return follower_wait_ns_.load(); }
  std::uint64_t followers_left_behind() const noexcept { return left_behind_.load(); }
  /// Disk errors: episodes (a write/sync error after which the spool held the sources back),
  /// of them ENOSPC ones, retries made, and whether the spool is held back by one now.
  std::uint64_t disk_errors() const noexcept { return disk_errors_.load(); }
  std::uint64_t disk_full_errors() const noexcept { return disk_full_errors_.load(); }
  std::uint64_t disk_error_retries() const noexcept { return disk_retries_.load(); }
  bool faulted() const noexcept { return faulted_flag_.load(std::memory_order_acquire); }
  /// Appended batches are kept until durable (a failed sync appends them again): at most this
  /// many bytes of them. Past it the spool takes no batch until the sync in flight completes
  /// (the disk's syncs lag far behind its writes); counted by durability_waits().
  static constexpr std::uint64_t kMaxHeldBytes = std::uint64_t{16} << 20;
  std::uint64_t durability_waits() const noexcept { return sync_waits_.load(); }
  /// Any thread: empty when the spool writes; otherwise the error it is retrying (file, errno).
  std::string fault() const;
  /// When records were appended (for the age of a sink's oldest unconfirmed record).
  const append_clock& appended_at() const noexcept { return append_clock_; }

 private:
  /// A producer that asked (record_batch::observe_append) learns where its batch went.
  static void notify_appended(const record_batch& b, std::uint64_t end_id) noexcept {
    if (b.append_observer() != nullptr) b.append_observer()->appended(b.ticket(), end_id);
  }
  /// Makes room for `bytes` under max_bytes. False when abandoned while waiting.
  bool make_room(std::size_t bytes);
  /// Commits what was appended: a background fdatasync when the policy says one is due (or
  /// every batch), a waited-for one when `force_sync`, otherwise only the writes. `busy`: just
  /// after a batch arrived (more are likely), so an interval sync may leave the write buffer
  /// being filled for the next one (spool_appender::begin_sync).
  void commit(bool force_sync, bool busy = false);
  /// A write/sync error: the spool holds the sources back and retries (recover()).
  void fail(const status& s);
  /// Retries after an error (waits the backoff first), appending again every batch not yet
  /// published. True when the spool writes again; false while the error persists or once
  /// abandoned.
  bool recover();
  /// Waits up to `ns` for abandon(), or (`on_confirm`) for a sink to confirm something.
  void backoff_wait(std::uint64_t ns, bool on_confirm);
  /// Returns the batches every record of which is published to the pool.
  void release_published();
  /// Backpressure before spilling (see the top): waits, bounded, until putting `bytes` into the
  /// memory tail evicts nothing a following sink still wants. False once the spool failed.
  bool wait_for_followers(std::size_t bytes);

  spool& spool_;
  spool_appender appender_;
  ring_edge<record_batch*> input_;
  batch_pool<record_batch>& pool_;
  stage_counters& counters_;
  spool_memory_tail tail_;
  append_clock append_clock_;
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> blocked_{false};
  std::atomic<std::uint64_t> full_waits_{0};
  std::atomic<std::uint64_t> not_spooled_{0};
  std::atomic<std::uint64_t> follower_waits_{0};
  std::atomic<std::uint64_t> follower_wait_ns_{0};
  std::atomic<std::uint64_t> left_behind_{0};
  std::uint64_t last_sync_ns_ = 0;
  std::uint64_t uncommitted_bytes_ = 0;
  bool unsynced_ = false;
  bool failed_ = false;  // a write/sync error not yet recovered from (spool thread)
  /// Every batch appended (or being appended) whose records are not all published yet: what a
  /// write error makes the spool append again. One reader reference each.
  struct held_batch {
    record_batch* batch;
    spool_frame_position where;
  };
  std::deque<held_batch> held_;
  std::uint64_t held_bytes_ = 0;  // of the batches in held_ (record_batch::bytes())
  void hold(record_batch* b, const spool_frame_position& where) {
    held_bytes_ += b->bytes();
    held_.push_back({b, where});
  }
  /// Waits for syncs until the held batches are back under kMaxHeldBytes.
  void wait_for_durability();
  std::atomic<std::uint64_t> sync_waits_{0};
  std::uint64_t backoff_ns_ = 0;
  std::uint64_t idle_trim_ns_ = 0;
  std::size_t full_batch_records_ = ~std::size_t{0};
  std::size_t full_batch_bytes_ = ~std::size_t{0};
  std::uint64_t expose_due_ns_ = 0;  // a deferred exposure (mono ns), 0 = none
  std::uint64_t last_batch_ns_ = 0;  // when a batch last arrived (idle trim)
  bool buffers_trimmed_ = false;     // since that batch
  int error_code_ = 0;
  std::atomic<bool> faulted_flag_{false};
  std::atomic<std::uint64_t> disk_errors_{0};
  std::atomic<std::uint64_t> disk_full_errors_{0};
  std::atomic<std::uint64_t> disk_retries_{0};
  mutable std::mutex fault_mutex_;
  std::string fault_;  // fault_mutex_
};

}  // namespace edgepipe
