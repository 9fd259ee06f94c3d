// Sequential file reader on io_uring with one read always in flight ahead of the parser, so
// disk latency overlaps with parsing. The caller sees a window of bytes that it consumes from
// the front; fill(n) guarantees n bytes are visible unless the file ends first.
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
  status submit_read();
  status wait_read();

  io_uring ring_{};
  bool ring_ready_ = false;
  int fd_ = -1;
  std::string path_;
  std::size_t chunk_ = 0;
  byte_arena window_;
  std::size_t start_ = 0;
  std::uint64_t window_base_ = 0;  // file offset of window_.data()
  byte_arena prefetch_;
  bool read_in_flight_ = false;
  std::uint64_t next_read_offset_ = 0;
  bool file_eof_ = false;
};

}  // namespace edgepipe
