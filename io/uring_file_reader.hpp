// Sequential file reader on io_uring: reads land straight in the window the caller parses (no
// copy out of a separate prefetch buffer), a chunk at a time, only when the caller asks for more
// than the window holds; before a read, what is left unconsumed (a partial frame, small) moves to
// the front. The kernel's readahead (POSIX_FADV_SEQUENTIAL) overlaps disk latency; a file in the
// page cache is copied by the read itself, which io_uring completes inline, so a read kept in
// flight ahead of the parser bought nothing but the extra copy.
// The caller sees a window of bytes that it consumes from the front; fill(n) guarantees n bytes
// are visible unless the file ends first. Views into the window stay valid until the next fill().
//
// Zero-copy hand-off (stages/sources/replay_source): the caller may keep views into the window past
// fill() by pinning them (pin()). A pinned window never moves: reads go on at its end while it
// has room (window_bytes), and when it has none the handoff callback runs, which must call
// take_window(): the caller gets the window with everything in it, and the reader carries on in
// a fresh arena, reading the unconsumed bytes again from the file (a page-cache copy by the
// kernel instead of a memmove by us). `tail_padding` bytes after the data are always readable
// and zero, so a view that ends at the window's end still has its padding.
// Threading: one thread owns a reader.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <functional>
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
  /// Zero-copy mode: the window is handed off (handoff, which calls take_window()) instead of
  /// compacted once it holds pinned views and a read would not fit in `window_bytes`. Reads
  /// become at most a quarter of the window.
  void enable_handoff(std::size_t window_bytes, std::size_t tail_padding,
                      std::function<void()> handoff);
  /// The window bytes before `window_offset` are in use by the caller and must not move.
  void pin(std::size_t window_offset) noexcept {
    if (window_offset > pinned_) pinned_ = window_offset;
  }
  std::size_t window_offset(const char* p) const noexcept {
    return static_cast<std::size_t>(p - window_.data());
  }
  /// Swaps the window for `arena` (which the reader clears and reuses); the unconsumed bytes
  /// are read again from the file into it on the next fill(). `read_little_next`: the caller
  /// takes the window early to wait (a paced replay, one payload per window), so the next reads
  /// start at kFirstReadAfterHandoff and double up to the chunk; at full speed they stay whole
  /// chunks (starting small there made smaller batches: -16% records/s for ISS).
  void take_window(byte_arena& arena, bool read_little_next = false);
  /// Bytes in the window not consumed yet.
  std::size_t unconsumed() const noexcept { return window_.size() - start_; }
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
  /// After a paced hand-off the reads start small and double up to chunk_: a paced replay hands
  /// off a window per payload, and reading a whole chunk again for each one cost more than the
  /// payload (~25 us of CPU per ISS payload).
  static constexpr std::size_t kFirstReadAfterHandoff = std::size_t{16} << 10;
  /// Reads up to read_bytes_ bytes at the end of the window (room made first) and waits for them.
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
  std::size_t pinned_ = 0;        // window bytes in use by the caller (zero-copy mode)
  std::size_t window_bytes_ = 0;  // 0 = no hand-off: compact as needed
  std::size_t tail_padding_ = 0;
  std::size_t read_bytes_ = 0;  // the next read's size: kFirstReadAfterHandoff..chunk_
  std::function<void()> handoff_;
};

}  // namespace edgepipe
