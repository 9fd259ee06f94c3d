// The spool's writing end: appends record batches as frames to the active segment through
// io_uring (io/uring_file_writer: large buffers, one write per megabyte), assigns record ids,
// rolls segments and commits: waits for the writes, fdatasyncs when asked, then publishes the
// committed id so the sinks can read the new records.
//
// Segment roll: the old segment is synced and closed; the new one is created with its header,
// which is synced together with the directory before any frame goes in, so a crash leaves either
// no new segment or one whose header reads back (recovery removes a last segment whose header
// does not).
// Threading: owned by the spool thread (stages/spool_stage); nothing here is shared except
// through the spool's own atomics and mutex.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/log2_histogram.hpp"
#include "io/spool.hpp"
#include "io/uring_file_writer.hpp"

namespace edgepipe {

class spool_appender {
 public:
  spool_appender(spool& s, std::vector<std::string> sources)
      : spool_(s), sources_(std::move(sources)) {}
  ~spool_appender();
  spool_appender(const spool_appender&) = delete;
  spool_appender& operator=(const spool_appender&) = delete;

  /// Starts a new segment at the spool's next record id (every run writes its own segments).
  status start();
  /// Appends a batch; its records get ids next_id()... Rolls first when the active segment would
  /// pass segment_bytes. Returns the frame's size in bytes (0 on error).
  status append(const record_batch& batch);
  /// Completes the writes; fdatasync when `sync`; publishes what is now committed (synced, or
  /// merely written when `publish_unsynced`).
  status commit(bool sync, bool publish_unsynced);
  /// Commits (synced) and starts a new segment.
  status roll();
  /// Commits (synced unless the policy is off) and closes the active segment.
  status close(bool sync);

  std::uint64_t next_id() const noexcept { return next_id_; }
  std::uint64_t active_bytes() const noexcept { return writer_.bytes_written(); }
  bool active_has_frames() const noexcept { return next_id_ > active_first_id_; }
  std::uint64_t appended_bytes() const noexcept { return appended_bytes_; }
  std::uint64_t appended_records() const noexcept { return appended_records_; }
  std::uint64_t fsyncs() const noexcept { return fsyncs_; }
  const log2_histogram& fsync_latency() const noexcept { return fsync_ns_; }
  /// Size of the frame `batch` would make.
  static std::size_t frame_bytes(const record_batch& batch) noexcept;

 private:
  status open_segment();

  spool& spool_;
  std::vector<std::string> sources_;
  uring_file_writer writer_;
  byte_arena prefix_;
  std::uint64_t next_id_ = 0;
  std::uint64_t active_first_id_ = 0;
  std::uint64_t written_end_ = 0;  // ids below this are written (not necessarily synced)
  std::uint64_t appended_bytes_ = 0;
  std::uint64_t appended_records_ = 0;
  std::uint64_t fsyncs_ = 0;
  log2_histogram fsync_ns_;
};

}  // namespace edgepipe
