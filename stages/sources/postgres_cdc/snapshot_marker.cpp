#include "stages/sources/postgres_cdc/snapshot_marker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace edgepipe::pgcdc {

namespace {

status errno_error(const std::string& what, const std::string& path, int err) {
  return errno_status("snapshot marker " + path + ": " + what, err);
}

status sync_directory_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = std::filesystem::path(".");
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open of its directory", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_error("fsync of its directory", path, err);
  return status::ok();
}

}  // namespace

bool snapshot_marker_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

status write_snapshot_marker(const std::string& path, const std::string& slot) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("open", path, errno);
  std::string text;  // appended, not concatenated: GCC 12's -Wrestrict false positive
  text.append("snapshot of slot ").append(slot).append(" not yet durable\n");
  const ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  if (n != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    return errno_error("write", path, n < 0 ? err : EIO);
  }
  const int rc = ::fdatasync(fd);
  err = errno;
  ::close(fd);
  if (rc != 0) return errno_error("fdatasync", path, err);
  return sync_directory_of(path);
}

status remove_snapshot_marker(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return status::ok();
    return errno_error("unlink", path, errno);
  }
  return sync_directory_of(path);
}

}  // namespace edgepipe::pgcdc
