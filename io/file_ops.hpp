// The few POSIX file calls behind small files that must survive a power cut (the spool's
// per-sink ledgers), behind an interface so a test can stand in a file system that forgets what
// was not synced (tests/ledger_durability_test.cpp). posix() is the real one.
// Threading: the posix ops are stateless (any thread); a test's own ops say their rules.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace edgepipe {

class file_ops {
 public:
  virtual ~file_ops() = default;
  /// As open(2): an fd, or -1 with errno set. The same for the others.
  virtual int open(const char* path, int flags, mode_t mode) = 0;
  virtual ssize_t write(int fd, const void* data, std::size_t size) = 0;
  virtual int fdatasync(int fd) = 0;
  virtual int fsync(int fd) = 0;
  virtual int close(int fd) = 0;
  virtual int rename(const char* from, const char* to) = 0;
  static file_ops& posix();
};

/// Replaces `path` with `text` so that a power cut leaves either the old or the new content:
/// writes `tmp`, fdatasyncs it, renames it over `path` and fsyncs `dir` (the rename's
/// directory entry). No heap allocation (sink threads call it every ledger_interval). Errors
/// name the file and carry errno.
status replace_file_durably(file_ops& ops, const std::string& dir, const std::string& tmp,
                            const std::string& path, std::string_view text);

}  // namespace edgepipe
