// A dead-letter JSONL file that a record may leave the spool for: lines are appended with
// write(2) and count only once sync() (fdatasync) has returned ok, so a sink settles a record as
// dead-lettered after sync() and keeps it in the spool (retried) when append or sync fails.
// Rotates like every file the daemon writes: past `rotate_bytes` the file becomes `path.1` (the
// older ones `path.2`, ...) and only `keep_files` rotated files are kept (older ones are deleted
// and counted). A file that cannot be opened or written is tried again at the next append.
// Errors name the file and carry errno (status::code()).
// Threading: one thread (the sink's) owns it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace edgepipe {

class dead_letter_file {
 public:
  dead_letter_file(std::string path, std::uint64_t rotate_bytes, unsigned keep_files)
      : path_(std::move(path)), rotate_bytes_(rotate_bytes), keep_files_(keep_files) {}
  ~dead_letter_file() { close(); }
  dead_letter_file(const dead_letter_file&) = delete;
  dead_letter_file& operator=(const dead_letter_file&) = delete;

  /// Appends one line (with its '\n'), opening the file (and its directory) first if needed.
  status append(std::string_view line);
  /// fdatasync: every line appended since the last sync() is durable once this returns ok. After
  /// a failed append it returns that error (the lines before it are not known to be durable)
  /// and the file is opened again at the next append.
  status sync();
  void close() noexcept;
  const std::string& path() const noexcept { return path_; }
  /// Rotated files deleted by the retention limit (keep_files).
  std::uint64_t files_deleted() const noexcept { return files_deleted_; }

 private:
  status open();
  status rotate();

  std::string path_;
  std::uint64_t rotate_bytes_;
  unsigned keep_files_;
  int fd_ = -1;
  status failed_;  // an append failed since the last sync()
  std::uint64_t size_ = 0;
  std::uint64_t files_deleted_ = 0;
};

}  // namespace edgepipe
