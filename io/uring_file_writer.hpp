// Sequential file writer on io_uring: appends are copied into one of a few large buffers; a full
// buffer is submitted as one write while the caller fills the next, so a sink makes one syscall
// per megabyte, not per record. fdatasync also goes through the ring, either waited for (sync())
// or in the background (start_sync() then poll_sync()): the caller keeps appending while the
// disk flushes, and learns when the bytes written before start_sync() are durable.
// Memory: buffers are allocated as writes need them (the lowest free one is reused, so a light
// load keeps one or two and only a disk slower than the writer fills all of them) and trim()
// gives back every one not holding data; at most buffers x buffer_bytes, ever.
// Streams: a path that is a character device (/dev/null, a terminal) or a pipe is written with
// write(2) on the caller's thread, one buffer at a time and in order, every short write resumed
// (a pipe takes what fits; several writes in flight could land in any order); there is nothing
// to fsync and nothing to seek. A named pipe nobody reads is refused at open instead of
// blocking there. A path that names one of the process's own descriptors (/dev/stdout,
// /dev/fd/N, /proc/self/fd/N) is a stream written through a duplicate of that descriptor,
// sharing its file offset (a regular file behind it is fdatasynced, inline).
// Threading: one thread owns a writer (its ring is not shared).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace edgepipe {

struct uring_file_writer_options {
  std::size_t buffer_bytes = std::size_t{1} << 20;
  unsigned buffers = 4;  // in-flight writes + the one being filled
  bool truncate = true;  // false: append to an existing file
  // O_DIRECT: the disk reads our buffers (no copy into the page cache, no writeback later).
  // Writes are whole 4 KiB blocks: a flush pads the last block with zeros and the next write
  // rewrites that block with more data; close() cuts the file to its real size. Needs
  // truncate = true; a file system without O_DIRECT (tmpfs) falls back to buffered writes
  // (direct() says which).
  bool direct = false;
};

class uring_file_writer {
 public:
  uring_file_writer() = default;
  ~uring_file_writer();
  uring_file_writer(const uring_file_writer&) = delete;
  uring_file_writer& operator=(const uring_file_writer&) = delete;

  status open(const std::string& path, uring_file_writer_options options = {});
  /// Copies bytes in; submits full buffers. False once any write has failed (see error()).
  bool write(std::string_view bytes);
  /// Submits the partial buffer and waits for every write to complete.
  status flush();
  /// flush() then fdatasync, waited for (after any background sync).
  status sync();
  /// Submits what is buffered and an fdatasync that starts once those writes have completed
  /// (later writes are not held back behind it, as IOSQE_IO_DRAIN would),
  /// without waiting for either: it covers every byte written so far. At most one is in
  /// flight: a call while one is waits for it first.
  /// `include_partial` = false: the buffer being filled stays where it is and the sync covers
  /// only the writes already submitted (submitted_bytes()). With direct I/O a partly filled
  /// buffer goes out padded and the next write must wait for it before rewriting its last
  /// block, which stalls the writing thread under load.
  status start_sync(bool include_partial = true);
  /// Puts the bytes written since the last exposure that no completed write holds into the page
  /// cache now, synchronously (pwrite; with direct I/O through a second, buffered descriptor):
  /// from then on a process crash (kill -9) keeps them, without a padded direct write (~150 us
  /// for 4 KiB on a virtual disk, against ~8 us). They stay in the buffer being filled and go
  /// out with it later (the kernel writes back or drops the cached pages first); a sync started
  /// while everything in that buffer is exposed only needs its fdatasync. Waits first for a
  /// padded direct write of the same block still in flight (they could land in either order).
  status expose();
  /// Bytes from the start of the file that a process crash keeps: completed writes, exposures.
  std::uint64_t visible_bytes() const noexcept;
  /// Reaps the completions already there (writes, a sync) without blocking.
  status reap_completed();
  /// Reaps completions without blocking (`wait` = false) or until the background sync is done.
  /// Returns the first error (write or fdatasync) seen.
  status poll_sync(bool wait);
  bool sync_in_flight() const noexcept { return sync_in_flight_; }
  /// Background syncs completed (successfully) so far.
  std::uint64_t syncs_completed() const noexcept { return syncs_completed_; }
  /// flush(), waits for a background sync, cuts direct-I/O padding, fdatasyncs when `sync`, and
  /// closes the file. Safe to call twice. `keep_ring`: the io_uring and its registered buffers
  /// stay for the next open() (setting them up again is slow: the buffers' pages are pinned).
  status close(bool sync = false, bool keep_ring = false);
  /// Frees every buffer that holds no data and no write in flight (the owner calls it after an
  /// idle period); returns the bytes given back. The next write allocates again.
  std::size_t trim();
  /// Bytes of buffers allocated now (at most buffers x buffer_bytes).
  std::size_t buffer_bytes_allocated() const noexcept { return allocated_slots_ * slot_bytes_; }
  /// Whether writes bypass the page cache (O_DIRECT was asked for and the file system took it).
  bool direct() const noexcept { return direct_; }
  /// Whether the file is a stream (a character device, a pipe or one of the process's own
  /// descriptors; see the top of this file).
  bool stream() const noexcept { return stream_; }
  static constexpr std::size_t kDirectAlign = 4096;
  /// Buffered writes of a partly filled buffer up to this size are pwrite()s on the caller's
  /// thread: ext4 cannot take a buffered write without blocking, so io_uring hands each one to
  /// a kernel worker thread and wakes the caller when it is done: two context switches per
  /// flush, which a sink flushing every record at a paced input pays on every record. Larger
  /// fills stay on the ring: at full speed the worker's copy runs on another CPU (64 KiB here
  /// cost 7% of a coingecko replay's records/s, 16 KiB nothing measurable).
  static constexpr std::size_t kInlineWriteBytes = std::size_t{16} << 10;

  bool is_open() const noexcept { return fd_ >= 0; }
  /// Bytes of the file submitted in writes that will not be rewritten (the buffer being filled,
  /// and a direct-I/O tail carried over into it, excluded).
  std::uint64_t submitted_bytes() const noexcept { return file_offset_; }
  /// Bytes handed to write() so far (the file's size once flushed).
  std::uint64_t bytes_written() const noexcept { return logical_size_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& error() const noexcept { return error_; }
  /// The errno of error() (ENOSPC for a short write), 0 when none.
  int error_code() const noexcept { return error_code_; }

 private:
  struct aligned_free {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  struct slot {
    std::unique_ptr<char, aligned_free> data;  // buffer_bytes, kDirectAlign-aligned
    std::size_t size = 0;                      // bytes filled
    std::size_t submitted = 0;                 // bytes of the write in flight (padded)
    bool in_flight = false;
    std::uint64_t at = 0;      // file offset of the write in flight
    bool sync_covers = false;  // the pending fdatasync waits for this write to complete
    bool registered = false;   // an io_uring fixed buffer (sparse table entry `index`)
  };
  /// Allocates slot `index`'s buffer and registers it when the ring has a sparse table.
  void allocate_slot(unsigned index);
  void free_slot(unsigned index);
  /// The slot to fill after a submit: the lowest free allocated one (completions reaped without
  /// waiting), else a new one, else the first to complete.
  void advance();
  void submit_current();
  /// A write of slot `index`'s submitted bytes at `offset` (fixed buffer when registered).
  void prep_write(io_uring_sqe* sqe, unsigned index, std::uint64_t offset);
  /// Submits the slot being filled without waiting (direct I/O: padded, its partial last block
  /// carried over to the next slot). Buffered, a fill of at most kInlineWriteBytes is written at
  /// once instead (write_inline()).
  void submit_partial();
  /// Writes slot `index` (buffered, not in flight) at file_offset_ now; moves past it.
  void write_inline(unsigned index);
  /// pwrite()s all of [src, src + n) at `at` on `fd` (a stream: write()s it), retrying short
  /// writes; false after fail().
  bool pwrite_all(int fd, const char* src, std::size_t n, std::uint64_t at);
  bool reap(bool wait_one);
  bool handle_completion(io_uring_cqe* cqe);
  void fail(std::string message, int code = 0);

  io_uring ring_{};
  bool ring_ready_ = false;
  bool sparse_table_ = false;  // ring_ has a sparse fixed-buffer table of options_.buffers
  std::size_t allocated_slots_ = 0;
  bool direct_ = false;
  bool stream_ = false;
  bool sync_stream_ = false;  // a stream that is a regular file (an inherited descriptor)
  int fd_ = -1;
  std::string path_;
  uring_file_writer_options options_;
  std::vector<slot> slots_;
  std::size_t slot_bytes_ = 0;
  unsigned current_ = 0;
  unsigned in_flight_ = 0;
  int guard_slot_ = -1;  // a padded write whose last block the next write rewrites
  /// Submits the fdatasync once the writes it covers have completed.
  void submit_sync_if_ready();

  bool sync_in_flight_ = false;  // asked for (start_sync) and not completed yet
  bool sync_submitted_ = false;  // its fdatasync is on the ring
  unsigned sync_waits_for_ = 0;  // writes it covers still in flight
  std::uint64_t syncs_completed_ = 0;
  // Tests (io/file_faults hold): the fdatasync's completion, reaped but held back; the sync
  // stays in flight until the plan releases it.
  bool sync_held_ = false;
  int held_result_ = 0;
  /// Completes a held sync once file_faults releases it. True when it did.
  bool complete_held_sync();
  std::uint64_t file_offset_ = 0;    // where the next submitted buffer lands
  std::uint64_t logical_size_ = 0;   // bytes accepted by write()
  std::uint64_t submitted_end_ = 0;  // logical end of the last write submitted
  // [shadow_start_, shadow_end_): exposed (expose()) and so in the page cache already.
  std::uint64_t shadow_start_ = 0;
  std::uint64_t shadow_end_ = 0;
  int shadow_fd_ = -1;  // direct I/O: a buffered descriptor of the same file, for expose()
  std::string error_;
  int error_code_ = 0;
};

}  // namespace edgepipe
