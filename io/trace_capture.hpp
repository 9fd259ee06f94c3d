// Captures HTTP responses into trace files (docs/trace-format.md) through io_uring, rotating by
// size: PATH is the live file, PATH.1, PATH.2, ... the full ones.
// Threading: owned by the HTTP source thread.
#pragma once

#include <string>

#include "io/trace_format.hpp"

namespace edgepipe {

class trace_capture {
 public:
  status open(const std::string& path, std::uint64_t rotate_bytes);
  /// False if the capture failed (see error()); the pipeline keeps running without it.
  bool write(const trace_frame& frame);
  status close();
  std::uint64_t frames() const noexcept { return frames_; }
  const std::string& error() const noexcept { return error_; }

 private:
  std::string path_;
  std::uint64_t rotate_bytes_ = 0;
  trace_writer writer_;
  unsigned next_rotation_ = 1;
  std::uint64_t frames_ = 0;
  std::string error_;
};

}  // namespace edgepipe
