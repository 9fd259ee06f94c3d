// Sequential file reader on io_uring: reads land straight in the window the caller parses (no
// copy out of a separate prefetch buffer), a chunk at a time, only when the caller asks for more
// than the window holds; before a read, what is left unconsumed (a partial frame, small) moves to
// the front. The kernel's readahead (POSIX_FADV_SEQUENTIAL) overlaps disk latency; a file in the
// page cache is copied by the read itself, which io_uring completes inline, so a read kept in
// flight ahead of the parser bought nothing but the extra copy.
// The caller sees a window of bytes that it consumes from the front; fill(n) guarantees n bytes
// are visible unless the file ends first. Views into the window stay valid until the next fill().
// Threading: one thread owns a reader.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/byte_arena.hpp"
#include "core/status.hpp"

namespace edgepipe {

class uring_file_reader {
 public:
  uring_file_reader() = default;
  ~uring_file_reader();
  uring_file_reader(const uring_file_reader&) = delete;
  uring_file_reader& operator=(const uring_file_reader&) = delete;

  status open(const std::string& path, std::size_t chunk_bytes = std::size_t{1} << 20);
  /// Reads until at least n bytes are available or the file ends.
  status fill(std::size_t n);
  std::string_view available() const noexcept {
    return window_.view(start_, window_.size() - start_);
  }
  void consume(std::size_t n) noexcept { start_ += n; }
  /// True when the file is exhausted and nothing is left in the window.
  bool done() const noexcept { return file_eof_ && start_ == window_.size(); }
  bool file_eof() const noexcept { return file_eof_; }
  /// File offset of available().data().
  std::uint64_t position() const noexcept { return window_base_ + start_; }
  const std::string& path() const noexcept { return path_; }

 private:
  /// Reads up to chunk_ bytes at the end of the window (room made first) and waits for them.
  status read_more();

  io_uring ring_{};
  bool ring_ready_ = false;
  int fd_ = -1;
  std::string path_;
  std::size_t chunk_ = 0;
  byte_arena window_;
  std::size_t start_ = 0;
  std::uint64_t window_base_ = 0;  // file offset of window_.data()
  std::uint64_t next_read_offset_ = 0;
  bool file_eof_ = false;
};

}  // namespace edgepipe
