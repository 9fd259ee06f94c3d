// Helpers shared by the libFuzzer targets in this directory: a private scratch directory for the
// targets that read files (trace reader, spool recovery) and a whole-file write.
// Threading: libFuzzer runs a target on one thread; nothing here is thread-safe.
#pragma once

#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace edgepipe::fuzz {

/// A directory of this process's own, on tmpfs when there is one (no disk writes per input);
/// removed at exit.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = "/dev/shm";
    if (const char* t = std::getenv("EDGEPIPE_FUZZ_TMP")) base = t;
    if (!std::filesystem::is_directory(base)) base = std::filesystem::temp_directory_path();
    std::string pattern = base + "/edgepipe-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string kept;
    kept = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(kept, ec);
    });
    return pattern;
  }();
  return dir;
}

/// Writes `bytes` as the whole content of `path`; aborts on failure (the harness is broken then,
/// not the code under test).
inline void write_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    std::abort();
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      std::perror(path.c_str());
      std::abort();
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

/// Stops the run with a message: an invariant of the code under test does not hold.
/// The message goes where the sanitizers report (libFuzzer keeps that open under
/// -close_fd_mask=2, which closes the code's own stderr).
[[noreturn]] inline void fail(const char* what) {
  const std::string line = std::string("fuzz invariant failed: ") + what;
  __sanitizer_report_error_summary(line.c_str());
  std::abort();
}

}  // namespace edgepipe::fuzz
