// The capture format for API traffic (docs/trace-format.md): a 16-byte file header, then one
// frame per HTTP response with its source, receive time, status and body, each frame checked by
// CRC-32. Readers also accept JSON Lines (one response body per line, no timing).
// Threading: a reader or writer belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "io/uring_file_reader.hpp"
#include "io/uring_file_writer.hpp"

namespace edgepipe {

inline constexpr std::string_view kTraceFileMagic{"EPTRACE\x01", 8};
inline constexpr std::uint32_t kTraceVersion = 1;
inline constexpr std::size_t kTraceFileHeaderBytes = 16;
inline constexpr std::uint32_t kTraceFrameMagic = 0x52465045;  // "EPFR" little-endian
inline constexpr std::size_t kTraceFrameHeaderBytes = 24;

struct trace_frame {
  std::string_view source;  // empty in JSON Lines
  std::string_view body;
  std::int64_t received_unix_ns = 0;  // 0 = unknown (JSON Lines)
  std::uint16_t http_status = 200;
};

/// Appends the header (once) and frames to a file through io_uring.
class trace_writer {
 public:
  /// append: continue an existing trace (its header is kept); otherwise start a new file.
  status open(const std::string& path, bool append = false);
  bool write(const trace_frame& frame);
  status close();
  std::uint64_t frames() const noexcept { return frames_; }
  std::uint64_t bytes() const noexcept { return out_.bytes_written(); }
  const std::string& error() const noexcept { return out_.error(); }

 private:
  uring_file_writer out_;
  std::uint64_t frames_ = 0;
};

enum class trace_kind { frames, json_lines };

struct trace_reader_counters {
  std::uint64_t frames = 0;
  std::uint64_t corrupt_frames = 0;   // bad CRC or header; skipped by resynchronising
  std::uint64_t torn_tail_bytes = 0;  // an incomplete last frame (e.g. capture cut by a crash)
  std::uint64_t oversized = 0;        // bodies above max_body_bytes, skipped
};

class trace_reader {
 public:
  status open(const std::string& path, std::size_t max_body_bytes);
  /// Next frame, valid until the following call. Returns false at the end (check error()).
  bool next(trace_frame& out);
  trace_kind kind() const noexcept { return kind_; }
  const trace_reader_counters& counters() const noexcept { return counters_; }
  const std::string& error() const noexcept { return error_; }
  /// The errno behind error() (EIO for a failed read), 0 when none.
  int error_code() const noexcept { return error_code_; }
  /// Warnings worth telling the user (torn tail, corruption), empty if none.
  std::string warnings() const;

  // Zero-copy (io/uring_file_reader): frames whose bodies the caller keeps past next().
  /// Reads go on at the end of a window of `window_bytes` while bodies are kept in it; when it is
  /// full, `handoff` runs and must call take_window().
  void enable_handoff(std::size_t window_bytes, std::size_t tail_padding,
                      std::function<void()> handoff) {
    in_.enable_handoff(window_bytes, tail_padding, std::move(handoff));
  }
  /// Keeps `body` (of the last frame) and `padding` bytes after it where they are; returns its
  /// offset in the window.
  std::size_t keep(std::string_view body, std::size_t padding) noexcept {
    const std::size_t at = in_.window_offset(body.data());
    in_.pin(at + body.size() + padding);
    return at;
  }
  /// The window, with every kept body in it, goes to the caller in exchange for `arena`. The
  /// last frame next() returned is consumed (it must not come again), or, with
  /// `give_back_last`, comes again from the next next() (read again into the new window).
  /// `read_little_next`: the caller ships early because it paces the frames (a window per
  /// payload), so the reader reads a little ahead first (uring_file_reader::take_window).
  void take_window(byte_arena& arena, bool give_back_last = false, bool read_little_next = false) {
    if (give_back_last && pending_consume_ != 0)
      --counters_.frames;  // counted again when it comes again
    else
      in_.consume(pending_consume_);
    pending_consume_ = 0;
    in_.take_window(arena, read_little_next);
  }
  /// Bytes read ahead of the last frame: what take_window() would read again.
  std::size_t unread_window_bytes() const noexcept { return in_.unconsumed() - pending_consume_; }

 private:
  bool next_frame(trace_frame& out);
  bool next_line(trace_frame& out);

  uring_file_reader in_;
  trace_kind kind_ = trace_kind::frames;
  std::size_t max_body_ = 0;
  std::size_t pending_consume_ = 0;
  bool resyncing_ = false;
  trace_reader_counters counters_;
  std::string error_;
  int error_code_ = 0;
};

}  // namespace edgepipe
