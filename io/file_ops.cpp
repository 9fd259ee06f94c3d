#include "io/file_ops.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace edgepipe {

namespace {
class posix_file_ops final : public file_ops {
 public:
  int open(const char* path, int flags, mode_t mode) override { return ::open(path, flags, mode); }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    return ::write(fd, data, size);
  }
  int fdatasync(int fd) override { return ::fdatasync(fd); }
  int fsync(int fd) override { return ::fsync(fd); }
  int close(int fd) override { return ::close(fd); }
  int rename(const char* from, const char* to) override { return std::rename(from, to); }
};
}  // namespace

file_ops& file_ops::posix() {
  static posix_file_ops ops;
  return ops;
}

status replace_file_durably(file_ops& ops, const std::string& dir, const std::string& tmp,
                            const std::string& path, std::string_view text) {
  const int fd = ops.open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return errno_status("cannot write " + tmp, errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ops.write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      (void)ops.close(fd);
      return errno_status("cannot write " + tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  // Durable before the rename: a power cut must not leave `path` naming an empty file.
  if (ops.fdatasync(fd) != 0) {
    const int err = errno;
    (void)ops.close(fd);
    return errno_status("fdatasync " + tmp, err);
  }
  if (ops.close(fd) != 0) return errno_status("close " + tmp, errno);
  if (ops.rename(tmp.c_str(), path.c_str()) != 0)
    return errno_status("cannot replace " + path, errno);
  // The rename is in the directory: until it is synced a power cut can bring the old one back.
  const int dfd = ops.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dfd < 0) return errno_status("cannot open directory " + dir, errno);
  const int rc = ops.fsync(dfd);
  const int err = errno;
  (void)ops.close(dfd);
  if (rc != 0) return errno_status("fsync " + dir, err);
  return status::ok();
}

}  // namespace edgepipe
