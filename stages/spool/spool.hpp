// The spool directory shared by the spool writer (stages/spool/spool_stage), the sink threads that
// read it back (stages/spool/spool_cursor) and the operator's `edgepipe spool` commands.
//
// What it holds: the list of segment files, two ends: the id up to which records are visible to
// the sinks (committed_end(): written, so that a process crash keeps them: a completed write or
// the page cache) and the id up to which they are durable (durable_end(): synced as the fsync
// policy asks; what upstream acknowledgements and segment deletion wait for), and per sink the id
// below which every record is confirmed delivered (the sink's watermark, persisted in
// `<sink>.ledger`). A segment is deleted once every sink's watermark has passed its last record.
//
// Recovery (open, in spool_recovery.cpp; the rest is spool.cpp): segments are listed; an unreadable
// header on the last segment (a roll cut short) removes it; the last segment's frames are checked
// one by one and a torn tail is cut at the last good frame (counted, logged). Earlier segments were
// synced before the roll and are checked by the readers' CRC as they are read. Record ids never go
// backwards: the next id is past both the last frame and every ledger's watermark.
//
// Threading: open() and the `edgepipe spool` functions run before any thread starts. After that:
// the writer thread adds/updates/deletes segments and publishes the committed id; sink threads
// publish their watermarks and find segments; both sides take mutex_ only for the segment list
// (on roll, delete and segment switch, never per record). Watermarks and the committed id are
// atomics. commit_waiter wakes sinks on new commits; space_waiter wakes a writer that is blocked
// on a full spool when a watermark moves. The ledger thread (stages/spool/spool_ledger_thread)
// writes the ledgers a sink asks for in the background; a sink slot's write_mutex orders its
// writes with the sink thread's own.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/spool_config.hpp"
#include "core/status.hpp"
#include "core/waiter.hpp"
#include "io/file_ops.hpp"
#include "stages/spool/spool_id_lease.hpp"
#include "stages/spool/spool_ledger_thread.hpp"

namespace edgepipe {

struct spool_segment {
  std::uint64_t first_id = 0;
  std::uint64_t end_id = 0;  // one past the last record written to it
  std::uint64_t bytes = 0;
  std::string path;
  std::vector<std::string> sources;  // the segment header's source table
};

struct spool_recovery_report {
  std::size_t segments = 0;
  std::uint64_t records = 0;  // in the last segment's scan plus earlier segments' id ranges
  std::uint64_t bytes = 0;
  std::uint64_t torn_tail_bytes = 0;   // cut from the last segment
  std::uint64_t removed_segments = 0;  // unreadable headers
  double seconds = 0;
};

class spool {
 public:
  explicit spool(spool_config config)
      : config_(std::move(config)),
        ledger_thread_(std::make_unique<spool_ledger_thread>([this] { write_pending_ledgers(); })) {
  }
  spool(const spool&) = delete;
  spool& operator=(const spool&) = delete;

  /// Creates the directory if needed, recovers it, registers the sinks and loads their ledgers.
  /// Sinks without a ledger start at the oldest segment. `read_only` (the `spool` commands)
  /// changes nothing on disk: a torn tail is only measured.
  status open(const std::vector<std::string>& sink_names, bool read_only = false);
  const spool_config& config() const noexcept { return config_; }
  const spool_recovery_report& recovery() const noexcept { return recovery_; }

  // ---- writer side (spool thread) ----
  /// The id the next appended record gets.
  std::uint64_t next_record_id() const noexcept { return next_id_; }
  /// Ids leased ahead of use (stages/spool/spool_id_lease).
  spool_id_lease& id_lease() noexcept { return lease_; }
  /// Whether ids [from, to) were never used: leased by a run that did not stop cleanly (found by
  /// this open()).
  bool unused_ids(std::uint64_t from, std::uint64_t to) const noexcept {
    return lease_.unused(from, to);
  }
  void add_segment(spool_segment s);
  void update_active(std::uint64_t end_id, std::uint64_t bytes);
  /// Records below `end_id` are durable (synced as the policy asks); visible to the sinks too.
  void publish_committed(std::uint64_t end_id) noexcept;
  /// Makes records below `end_id` visible to the sinks: written where a process crash keeps them
  /// (a completed write, the page cache), not necessarily synced.
  void publish_visible(std::uint64_t end_id) noexcept;
  /// Deletes segments every sink has confirmed; the active (last) one only when
  /// `including_last` (a clean stop, once the writer has closed it). Returns bytes freed. A file
  /// that cannot be deleted is logged and left (recovery deletes it once confirmed).
  std::uint64_t delete_confirmed_segments(bool including_last = false);
  /// The same, except that the files are the caller's to delete, without the lock held
  /// (spool_appender, through io_uring): their paths are appended to `paths`.
  std::uint64_t take_confirmed_segments(std::vector<std::string>& paths,
                                        bool including_last = false);
  /// Deletes the oldest non-active segment whatever the sinks say, counting for each sink the
  /// records it had not confirmed. False when only the active segment is left (`even_last`:
  /// that one too; after a write error, when the writer opens a new segment next).
  bool drop_oldest_segment(bool even_last = false);
  /// After a write or sync error: forgets every record at or past `end_id` (not yet durable:
  /// the writer appends them again, with the same ids). Segments starting at or past it leave
  /// the list (their files are deleted, except the one starting exactly at `end_id`, which the
  /// writer's next segment truncates in place); the segment holding `end_id` is cut at
  /// `cut_offset` (where its first frame not durable starts; 0: at its recorded size). An error
  /// (the truncate failed) leaves the list as it was. Some of those records were visible and
  /// sinks may have read past `end_id` already: hold_visible(end_id) first, and the layout
  /// generation moves on, so a reader finds its place again by id (spool_cursor).
  status cut_unpublished(std::uint64_t end_id, std::uint64_t cut_offset);
  /// After a write or sync error: records at or past `end_id` stop being visible (committed_end()
  /// says so) until release_visible(): they are appended again (cut_unpublished), and a reader
  /// must not read the new frames while they are being written, nor old ones a failed sync may
  /// have left unreadable.
  void hold_visible(std::uint64_t end_id) noexcept;
  /// The records appended again are written (and published): visible again.
  void release_visible() noexcept;
  /// Moves on each time cut_unpublished() rewrites the spool's tail: a reader's place (segment,
  /// offset) from before may point into a file that is gone or holds other frames now.
  std::uint64_t layout_generation() const noexcept {
    return layout_generation_.load(std::memory_order_acquire);
  }
  std::uint64_t total_bytes() const;
  /// Marks the writer finished: sinks end once they have confirmed everything committed.
  void finish_writing() noexcept;
  bool writing_finished() const noexcept { return writer_done_.load(std::memory_order_acquire); }

  // ---- sink side (each sink's own thread for its own index) ----
  std::size_t sink_count() const noexcept { return sinks_.size(); }
  const std::string& sink_name(std::size_t i) const { return sinks_[i]->name; }
  /// Records below this are visible to the sinks (written; see publish_visible()). Goes back
  /// while the spool appends records again after a disk error (hold_visible()).
  std::uint64_t committed_end() const noexcept {
    return std::min(committed_.load(std::memory_order_acquire),
                    visible_cap_.load(std::memory_order_acquire));
  }
  /// Records below this are durable (synced as the fsync policy asks; fsync = off: written).
  std::uint64_t durable_end() const noexcept { return durable_.load(std::memory_order_acquire); }
  /// Records below this are confirmed by every sink (or dropped), synced or not.
  std::uint64_t confirmed_by_all() const noexcept;
  std::uint64_t watermark(std::size_t sink) const noexcept {
    return sinks_[sink]->watermark.load(std::memory_order_acquire);
  }
  /// Records in the spool this sink has not confirmed: those of the segments between its
  /// watermark and the visible end (ids never used, a gap left by the id lease, do not count).
  /// Takes the segment list's mutex: for reports, not the hot path.
  std::uint64_t backlog(std::size_t sink) const;
  /// Every record below `end_id` is confirmed by this sink. Never moves backwards.
  void confirm(std::size_t sink, std::uint64_t end_id) noexcept;
  /// Writes `<dir>/<sink>.ledger` when the watermark or `state` changed since last time: temp
  /// file, fdatasync, rename, directory fsync (io/file_ops), so it survives a power cut.
  /// `state`: the sink's own resume state (lines of `key=value\n`, at most
  /// kMaxLedgerStateBytes), kept in the same file so it and the watermark are written at once
  /// (the file sink's confirmed length: stages/sinks/file/file_sink_state).
  /// runs on: the sink's thread. Supersedes a persist_ledger_async() not yet written.
  status persist_ledger(std::size_t sink, std::string_view state = {});
  /// runs on: the sink's thread. The same in the background (stages/spool/spool_ledger_thread):
  /// this watermark and `state` are copied (no allocation) and written by the ledger thread,
  /// which logs a failure; returns at once. An error only when `state` is too long.
  status persist_ledger_async(std::size_t sink, std::string_view state = {});
  /// The sink state of the ledger last written or found at open() (empty: none). runs on: the
  /// sink's thread, before it persists anything.
  std::string_view ledger_state(std::size_t sink) const noexcept {
    return sinks_[sink]->persisted_state;
  }
  static constexpr std::size_t kMaxLedgerStateBytes = 512;
  /// Tests: the file calls persist_ledger() makes (default: file_ops::posix()).
  void set_file_ops(file_ops& ops) noexcept { ops_ = &ops; }
  /// Records below this id were dropped (drop_oldest); readers skip past them.
  std::uint64_t dropped_end() const noexcept {
    return dropped_end_.load(std::memory_order_acquire);
  }
  std::uint64_t dropped_records(std::size_t sink) const noexcept {
    return sinks_[sink]->dropped.load(std::memory_order_relaxed);
  }
  /// The segment holding `id`, or else the first one after it. False when there is none.
  bool find_segment(std::uint64_t id, spool_segment& out) const;
  std::vector<spool_segment> segments() const;

  /// Records below this are durable and confirmed by every sink (or dropped): what segment
  /// deletion and the memory tail's eviction wait for.
  std::uint64_t min_watermark() const noexcept;
  /// Bumped by every confirm(): a blocked writer waits for it to move.
  std::uint64_t confirm_generation() const noexcept {
    return confirms_.load(std::memory_order_acquire);
  }
  /// The first segment that starts after the segment starting at `first_id`.
  bool next_segment_after(std::uint64_t first_id, spool_segment& out) const;

  waiter& commit_waiter() noexcept { return commit_waiter_; }
  waiter& space_waiter() noexcept { return space_waiter_; }

  // ---- counters (any thread) ----
  std::uint64_t dropped_segments() const noexcept { return dropped_segments_.load(); }
  /// Bytes of dropped segments whose file could not be deleted: still on disk, so still
  /// counted in total_bytes() (deletion is tried again on every drop).
  std::uint64_t undeleted_bytes() const;
  std::uint64_t deleted_segments() const noexcept { return deleted_segments_.load(); }

 private:
  struct sink_slot {
    std::string name;
    std::atomic<std::uint64_t> watermark{0};
    std::atomic<std::uint64_t> dropped{0};
    std::mutex write_mutex;  // held while the ledger file is written (sink or ledger thread)
    std::uint64_t persisted = ~std::uint64_t{0};  // write_mutex
    std::string persisted_state;                  // write_mutex (after open())
    std::string ledger_path, ledger_tmp;          // set in open()
    std::mutex pending_mutex;  // a request for the ledger thread; never held across a write
    bool pending = false;
    std::uint64_t pending_watermark = 0;
    std::string pending_state;  // reserved: no allocation in persist_ledger_async()
  };
  /// Writes the ledger of `s` (write_mutex held) unless it is unchanged.
  status write_ledger(sink_slot& s, std::uint64_t watermark, std::string_view state);
  /// runs on: the ledger thread. Writes what persist_ledger_async() asked for.
  void write_pending_ledgers();
  status recover(bool read_only);
  std::string ledger_path(const std::string& sink) const;

  spool_config config_;
  file_ops* ops_ = &file_ops::posix();
  spool_recovery_report recovery_;
  std::vector<std::unique_ptr<sink_slot>> sinks_;
  mutable std::mutex mutex_;  // segments_ only
  std::deque<spool_segment> segments_;
  std::vector<std::pair<std::string, std::uint64_t>> undeleted_;  // path, bytes (mutex_)
  std::uint64_t next_id_ = 0;
  std::uint32_t header_bytes_of_last_ = 0;  // recovery only
  // Recovery only: an empty last segment kept on disk because its header is all that says ids
  // went up to its first id (the records before it were cut or set aside); see recover().
  std::string floor_segment_;
  std::uint64_t floor_segment_id_ = 0;
  std::atomic<std::uint64_t> committed_{0};  // visible to the sinks
  std::atomic<std::uint64_t> durable_{0};
  std::atomic<std::uint64_t> visible_cap_{~std::uint64_t{0}};  // hold_visible()
  std::atomic<std::uint64_t> layout_generation_{0};
  spool_id_lease lease_;
  std::uint64_t lease_floor_ = 0;  // read by open() before recovery
  std::atomic<std::uint64_t> dropped_end_{0};
  std::atomic<bool> writer_done_{false};
  std::atomic<std::uint64_t> confirms_{0};
  std::atomic<std::uint64_t> dropped_segments_{0};
  std::atomic<std::uint64_t> deleted_segments_{0};
  waiter commit_waiter_;
  waiter space_waiter_;
  // Last: stopped and joined first, while the sink slots it writes still exist.
  std::unique_ptr<spool_ledger_thread> ledger_thread_;
};

/// Parses a ledger file's text; nullopt when malformed.
std::optional<std::uint64_t> parse_ledger(std::string_view text);
/// The sink state a ledger's text carries: the lines after the watermark (empty: none).
std::string_view parse_ledger_state(std::string_view text);

}  // namespace edgepipe
