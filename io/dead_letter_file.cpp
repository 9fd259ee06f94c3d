#include "io/dead_letter_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace edgepipe {

namespace fs = std::filesystem;

status dead_letter_file::open() {
  const fs::path p(path_);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec)
      return status::error("cannot open dead-letter file " + path_ + ": cannot create directory " +
                               p.parent_path().string() + ": " + ec.message(),
                           ec.value());
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return errno_status("cannot open dead-letter file " + path_, errno);
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  // A line cut short by an earlier error: end it, so the next line starts on its own.
  char last = '\n';
  if (size_ != 0 && ::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) == 1 && last != '\n' &&
      ::write(fd_, "\n", 1) == 1)
    ++size_;
  return status::ok();
}

void dead_letter_file::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

status dead_letter_file::rotate() {
  if (status s = sync(); !s) return s;
  close();
  // path.(keep) goes; path.(i) -> path.(i+1); path -> path.1.
  const auto nth = [&](unsigned i) { return path_ + "." + std::to_string(i); };
  std::error_code ec;
  if (keep_files_ == 0) {
    if (fs::remove(path_, ec)) ++files_deleted_;
    return status::ok();
  }
  if (fs::remove(nth(keep_files_), ec)) ++files_deleted_;
  for (unsigned i = keep_files_ - 1; i >= 1; --i) {
    if (fs::exists(nth(i), ec)) fs::rename(nth(i), nth(i + 1), ec);
    if (ec) return status::error("cannot rotate " + nth(i) + ": " + ec.message(), ec.value());
  }
  if (std::rename(path_.c_str(), nth(1).c_str()) != 0)
    return errno_status("cannot rotate dead-letter file " + path_, errno);
  return status::ok();
}

status dead_letter_file::append(std::string_view line) {
  if (!failed_.is_ok()) return failed_;  // until sync() reports it
  if (fd_ >= 0 && rotate_bytes_ != 0 && size_ != 0 && size_ + line.size() > rotate_bytes_) {
    if (status s = rotate(); !s) return s;
  }
  if (fd_ < 0) {
    if (status s = open(); !s) return s;
  }
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The lines appended since the last sync are not known to be durable: sync() fails too,
      // and the file is opened again at the next append.
      failed_ = errno_status("cannot write dead-letter file " + path_, n < 0 ? errno : ENOSPC);
      return failed_;
    }
    done += static_cast<std::size_t>(n);
  }
  size_ += line.size();
  return status::ok();
}

status dead_letter_file::sync() {
  if (!failed_.is_ok()) {
    status s = failed_;
    failed_ = status::ok();
    close();
    return s;
  }
  if (fd_ < 0) return status::ok();
  if (::fdatasync(fd_) != 0) {
    const int err = errno;
    close();
    return errno_status("fdatasync dead-letter file " + path_, err);
  }
  return status::ok();
}

}  // namespace edgepipe
