// The spool thread's background file-system work, on io_uring: deleting the segment files every
// sink has confirmed, and fsyncing the spool directory once a new segment file exists. Both are
// submitted without waiting: on ext4 an unlink of a 64 MiB segment took up to 22 ms (and ran
// with the spool's mutex held, which the sink threads take at each segment switch), and the
// directory fsync ~1 ms per roll; either stalled the spool thread long enough to fill the
// transform's ring. poll() reaps what has completed.
// A failed unlink is logged with its path (the file stays; nothing is lost). A failed directory
// fsync is returned by poll(): the segment created before it may not survive a power cut.
// Kernels without IORING_OP_UNLINKAT (< 5.11) get a plain unlink().
// Threading: one thread (the spool thread) owns a janitor.
#pragma once

#include <liburing.h>

#include <array>
#include <cstdint>
#include <string>

#include "core/status.hpp"

namespace edgepipe {

class spool_janitor {
 public:
  spool_janitor() = default;
  ~spool_janitor();  // waits for everything submitted
  spool_janitor(const spool_janitor&) = delete;
  spool_janitor& operator=(const spool_janitor&) = delete;

  /// Opens `dir` (for its fsync) and the ring. Idempotent.
  status open(const std::string& dir);
  /// Deletes `path` in the background.
  void unlink(std::string path);
  /// fsyncs the directory in the background; directory_sync_pending() until it completes.
  void sync_directory();
  bool directory_sync_pending() const noexcept { return dir_syncs_in_flight_ != 0; }
  /// Reaps completions: without blocking, or (`wait`) until nothing is in flight. Returns the
  /// first directory fsync error since the last call.
  status poll(bool wait);
  std::uint64_t unlinked() const noexcept { return unlinked_; }

 private:
  static constexpr unsigned kSlots = 32;
  static constexpr std::uint64_t kDirSyncTag = kSlots;
  /// Makes room for one more operation (reaps, waiting if every slot is taken).
  unsigned free_slot();
  void reap_one(io_uring_cqe* cqe);
  void submit();

  io_uring ring_{};
  bool ring_ready_ = false;
  int dir_fd_ = -1;
  std::string dir_;
  std::array<std::string, kSlots> paths_;  // unlinks in flight, by slot; empty = free
  unsigned in_flight_ = 0;
  unsigned dir_syncs_in_flight_ = 0;
  std::uint64_t unlinked_ = 0;
  std::string dir_sync_error_;
};

}  // namespace edgepipe
