// The spool's writing end: appends record batches as frames to the active segment through
// io_uring (io/uring_file_writer: large buffers, one write per megabyte), assigns record ids,
// rolls segments and commits: waits for the writes, fdatasyncs when asked, then publishes the
// committed id so the sinks can read the new records.
//
// Visible before durable: a frame is published to the sinks (spool::publish_visible) as soon as
// its bytes are where a process crash keeps them: a completed write, or, when the input goes idle,
// expose(): the buffer being filled is copied into the page cache (io/uring_file_writer::expose,
// a pwrite of a few KiB, ~8 us) instead of waiting for it to fill or for the group commit. The
// fdatasync only gates what waits for durability (spool::durable_end: upstream acknowledgements,
// segment deletion); a power cut can lose what was visible and not synced, and the id lease
// (stages/spool/spool_id_lease) keeps the ids the sinks may have seen from being given again.
//
// Group commit in the background: begin_sync() submits an fdatasync covering everything appended
// so far and returns; appends go on while the disk flushes; poll() publishes the records the sync
// covered once it completes as durable (and starts the next sync if one was asked for
// meanwhile). So the spool thread never waits on the disk while batches are arriving.
//
// Segment roll: the old segment's last sync runs in the background on its own writer while the
// new segment is created with its header, which is synced together with the directory before
// any frame goes in, so a crash leaves either no new segment or one whose header reads back
// (recovery removes a last segment whose header does not). The old segment's records are
// published when its sync completes, and none of the new one's before them. fsync = off closes
// the old segment without a sync.
// Threading: owned by the spool thread (stages/spool/spool_stage); nothing here is shared except
// through the spool's own atomics and mutex, and the counters appended_bytes(),
// appended_records() and fsyncs(), which /metrics reads from its own thread (relaxed atomics,
// written by the spool thread only).
//
// Segments are written with O_DIRECT (`[spool] direct_io`, default on): the disk takes the bytes
// straight from our buffers, with no copy into the page cache and no writeback to wait for at
// fdatasync. A crash can leave the last block of a segment padded with zeros; readers stop at a
// zero frame magic and recovery cuts the padding.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "core/batch.hpp"
#include "core/latency_histogram.hpp"
#include "io/uring_file_writer.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_cursor.hpp"
#include "stages/spool/spool_janitor.hpp"

namespace edgepipe {

class spool_appender {
 public:
  // Each writer has [spool] write_buffer_bytes of io_uring buffers of this size at most,
  // allocated as writes need them; the second writer holds some only during a roll.
  static constexpr std::size_t kWriteBufferBytes = std::size_t{1} << 20;

  spool_appender(spool& s, std::vector<std::string> sources)
      : spool_(s), sources_(std::move(sources)) {}
  ~spool_appender();
  spool_appender(const spool_appender&) = delete;
  spool_appender& operator=(const spool_appender&) = delete;

  /// Starts a new segment at the spool's next record id (every run writes its own segments).
  status start();
  /// Takes the segments every sink has confirmed off the spool and deletes their files in the
  /// background (spool_janitor). Returns the bytes they held.
  std::uint64_t delete_confirmed_segments();
  /// Appends a batch; its records get ids next_id()... Rolls first when the active segment would
  /// pass segment_bytes. `where` (optional) gets the frame's place in the spool.
  status append(const record_batch& batch, spool_frame_position* where = nullptr);
  /// Gives back the write buffers that hold nothing (after an idle period); returns the bytes.
  std::size_t trim_buffers();
  /// `sync`: completes the writes, fdatasyncs and publishes, waited for. Otherwise, with
  /// `publish_unsynced` (fsync = off): completes the writes and publishes them; without it
  /// (interval, not due): only reaps a background sync that completed.
  status commit(bool sync, bool publish_unsynced);
  /// Group commit in the background: submits what is buffered and an fdatasync ordered after
  /// every write, without waiting for either. With one already in flight, asks for another
  /// once it completes (poll() starts it).
  /// `full_buffers_only` (interval policy, input busy): when the writes already submitted
  /// complete at least one frame not yet covered, the sync covers only them and leaves the
  /// 1 MiB buffer being filled alone (no padded write, no wait for it before the next one);
  /// the frames in that buffer are covered by the next sync. Otherwise everything is covered.
  status begin_sync(bool full_buffers_only = false);
  /// Appended records not covered by a completed or started sync.
  bool has_uncovered() const noexcept { return next_id_ > covered_end_; }
  /// Ids below this are covered by a sync started or completed (or, fsync = off, a flush):
  /// they are published without anything more being asked.
  std::uint64_t covered_end() const noexcept { return covered_end_; }
  /// Makes every frame appended so far visible to the sinks now (the input is idle): exposes the
  /// buffer being filled (see the top) and publishes. Cheap when there is nothing new.
  status expose();
  /// Publishes what a completed background sync covered; starts the one asked for meanwhile.
  /// `wait`: block until the sync in flight completes.
  status poll(bool wait);
  bool sync_in_flight() const noexcept {
    return sync_pending_ || retiring_ != nullptr || held_end_ != 0 ||
           janitor_.directory_sync_pending();
  }
  /// Starts a new segment. The old one is synced in the background (unless fsync = off, which
  /// closes it without a sync): its records are published once that completes (poll()).
  status roll();
  /// Commits (synced unless the policy is off) and closes the active segment.
  status close(bool sync);
  /// After a write or sync error: closes both writers without syncing (what they hold is not
  /// published and is appended again by the caller), drops the background work, cuts what was
  /// not published off the spool (spool::cut_unpublished at `cut_offset`) and starts a new
  /// segment at the committed id. An error leaves the appender closed: call it again later.
  status restart_after_error(std::uint64_t cut_offset);

  std::uint64_t next_id() const noexcept { return next_id_; }
  std::uint64_t active_bytes() const noexcept { return writer_->bytes_written(); }
  bool active_has_frames() const noexcept { return next_id_ > active_first_id_; }
  /// Any thread (the /metrics scrape reads them while the spool thread appends).
  std::uint64_t appended_bytes() const noexcept {
    return appended_bytes_.load(std::memory_order_relaxed);
  }
  std::uint64_t appended_records() const noexcept {
    return appended_records_.load(std::memory_order_relaxed);
  }
  std::uint64_t fsyncs() const noexcept { return fsyncs_.load(std::memory_order_relaxed); }
  const latency_histogram& fsync_latency() const noexcept { return fsync_ns_; }
  /// Size of the frame `batch` would make.
  static std::size_t frame_bytes(const record_batch& batch) noexcept;

 private:
  status open_segment();
  /// The next sync (or flush) covers every record appended so far.
  void cover_everything();
  /// Completes a background sync, closes the active segment (synced when `sync`), publishes.
  status finish_segment(bool sync);
  /// Publishes to the sinks the frames whose writes have completed or were exposed.
  void publish_visible();

  spool& spool_;
  std::vector<std::string> sources_;
  /// Two writers: during a roll the old segment's last sync completes in the background on one
  /// (retiring_) while the new segment is written through the other. 8 MiB of buffers each.
  uring_file_writer writers_[2];
  uring_file_writer* writer_ = &writers_[0];  // the active segment's
  uring_file_writer* retiring_ = nullptr;     // the old segment's, until its last sync is done
  std::uint64_t retiring_end_ = 0;            // ids below it are in the old segment
  std::uint64_t retiring_first_end_ = 0;      // what its sync in flight at the roll covers
  bool retiring_final_started_ = false;       // the sync covering all of it is on its ring
  std::uint64_t retiring_started_ns_ = 0;
  std::uint64_t held_end_ = 0;  // a new-segment sync completed before the old one's: held back
  /// Progresses the old segment's last sync; publishes and closes it once done.
  status poll_retiring(bool wait);
  /// Completed syncs of the active segment wait to be published (held_end_): the old
  /// segment's last sync or the directory fsync after a new segment is still in flight.
  bool publish_held() const noexcept;
  spool_janitor janitor_;
  std::vector<std::string> doomed_;  // paths of confirmed segments, handed to the janitor
  byte_arena prefix_;
  std::uint64_t next_id_ = 0;
  std::uint64_t run_first_id_ = 0;  // next_id_ at start()
  bool started_ = false;
  std::uint64_t active_first_id_ = 0;
  std::uint64_t sync_end_ = 0;     // ids below this are covered by the background sync in flight
  std::uint64_t covered_end_ = 0;  // ids below this are covered by a sync started or completed
  bool sync_wanted_full_only_ = false;  // how the wanted sync (sync_wanted_) was asked for
  /// Where each frame of the active segment not yet covered by a sync ends, and the id after
  /// it: a sync that covers only the submitted writes covers the frames ending before them.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> frame_ends_;
  /// The same for the frames of the active segment not yet visible to the sinks.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> visible_ends_;
  bool retiring_visible_ = true;  // every frame of the old segment is visible
  std::uint64_t sync_started_ns_ = 0;
  bool sync_pending_ = false;  // a background sync was started and not yet published
  bool sync_wanted_ = false;   // begin_sync() while one was in flight
  bool direct_fallback_logged_ = false;
  // Written by the spool thread only (add_relaxed), read by any.
  std::atomic<std::uint64_t> appended_bytes_{0};
  std::atomic<std::uint64_t> appended_records_{0};
  std::atomic<std::uint64_t> fsyncs_{0};
  static void add_relaxed(std::atomic<std::uint64_t>& v, std::uint64_t n) noexcept {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  latency_histogram fsync_ns_;
};

}  // namespace edgepipe
