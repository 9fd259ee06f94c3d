// Sequential file writer on io_uring: appends are copied into one of a few large buffers; a full
// buffer is submitted as one write while the caller fills the next, so a sink makes one syscall
// per megabyte, not per record. fdatasync also goes through the ring.
// Threading: one thread owns a writer (its ring is not shared).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_arena.hpp"
#include "core/status.hpp"

namespace edgepipe {

struct uring_file_writer_options {
  std::size_t buffer_bytes = std::size_t{1} << 20;
  unsigned buffers = 4;  // in-flight writes + the one being filled
  bool truncate = true;  // false: append to an existing file
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
  /// flush() then fdatasync.
  status sync();
  /// flush() and close the file. Safe to call twice.
  status close();

  bool is_open() const noexcept { return fd_ >= 0; }
  /// Bytes handed to write() so far (the file's size once flushed).
  std::uint64_t bytes_written() const noexcept { return logical_size_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& error() const noexcept { return error_; }

 private:
  struct slot {
    byte_arena buf;
    bool in_flight = false;
  };
  void submit_current();
  bool reap(bool wait_one);
  bool handle_completion(io_uring_cqe* cqe);
  void fail(std::string message);

  io_uring ring_{};
  bool ring_ready_ = false;
  int fd_ = -1;
  std::string path_;
  uring_file_writer_options options_;
  std::vector<slot> slots_;
  unsigned current_ = 0;
  unsigned in_flight_ = 0;
  std::uint64_t file_offset_ = 0;   // where the next submitted buffer lands
  std::uint64_t logical_size_ = 0;  // bytes accepted by write()
  std::string error_;
};

}  // namespace edgepipe
