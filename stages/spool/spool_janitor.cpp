#include "stages/spool/spool_janitor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "io/uring_wait.hpp"
#include "platform/log.hpp"

namespace edgepipe {

spool_janitor::~spool_janitor() {
  (void)poll(true);
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

status spool_janitor::open(const std::string& dir) {
  if (ring_ready_ && dir == dir_) return status::ok();
  if (dir_fd_ >= 0) ::close(dir_fd_);
  dir_ = dir;
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return errno_status("cannot open directory " + dir, errno);
  if (!ring_ready_) {
    if (const int rc = io_uring_queue_init(kSlots + 8, &ring_, 0); rc < 0)
      return errno_status("io_uring_queue_init for " + dir, -rc);
    ring_ready_ = true;
  }
  return status::ok();
}

unsigned spool_janitor::free_slot() {
  for (;;) {
    for (unsigned i = 0; i < kSlots; ++i)
      if (paths_[i].empty()) return i;
    io_uring_cqe* cqe = nullptr;
    if (wait_cqe_retrying(&ring_, &cqe) < 0) return kSlots;
    reap_one(cqe);
  }
}

void spool_janitor::submit() {
  if (const int rc = io_uring_submit(&ring_); rc < 0)
    log_line(log_level::error, "spool", errno_message("io_uring_submit in " + dir_, -rc));
}

void spool_janitor::unlink(std::string path) {
  const unsigned slot = ring_ready_ ? free_slot() : kSlots;
  io_uring_sqe* sqe = slot < kSlots ? io_uring_get_sqe(&ring_) : nullptr;
  if (sqe == nullptr) {  // no ring: do it here
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      log_line(log_level::error, "spool",
               errno_message("cannot delete confirmed segment " + path, errno));
    else
      ++unlinked_;
    return;
  }
  paths_[slot] = std::move(path);
  io_uring_prep_unlinkat(sqe, AT_FDCWD, paths_[slot].c_str(), 0);
  io_uring_sqe_set_data64(sqe, slot);
  ++in_flight_;
  submit();
}

void spool_janitor::sync_directory() {
  io_uring_sqe* sqe = ring_ready_ ? io_uring_get_sqe(&ring_) : nullptr;
  if (sqe == nullptr) {
    if (free_slot() < kSlots) sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe == nullptr || dir_fd_ < 0) {
    if (dir_fd_ < 0 || ::fsync(dir_fd_) != 0)
      dir_sync_error_ = errno_message("fsync " + dir_, dir_fd_ < 0 ? EBADF : errno);
    return;
  }
  io_uring_prep_fsync(sqe, dir_fd_, 0);
  io_uring_sqe_set_data64(sqe, kDirSyncTag);
  ++in_flight_;
  ++dir_syncs_in_flight_;
  submit();
}

void spool_janitor::reap_one(io_uring_cqe* cqe) {
  const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
  const int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  --in_flight_;
  if (tag == kDirSyncTag) {
    --dir_syncs_in_flight_;
    if (res < 0 && dir_sync_error_.empty()) dir_sync_error_ = errno_message("fsync " + dir_, -res);
    return;
  }
  if (tag >= kSlots) return;
  std::string& path = paths_[tag];
  int err = res < 0 ? -res : 0;
  if (err == EINVAL || err == EOPNOTSUPP) err = ::unlink(path.c_str()) == 0 ? 0 : errno;
  if (err != 0 && err != ENOENT)
    log_line(log_level::error, "spool",
             errno_message("cannot delete confirmed segment " + path, err));
  else
    ++unlinked_;
  path.clear();
}

status spool_janitor::poll(bool wait) {
  while (ring_ready_ && in_flight_ != 0) {
    io_uring_cqe* cqe = nullptr;
    const int rc = wait ? wait_cqe_retrying(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
    if (rc == -EAGAIN || rc == -EINTR) {
      if (!wait) break;
      continue;
    }
    if (rc < 0) {
      log_line(log_level::error, "spool", errno_message("io_uring_wait_cqe in " + dir_, -rc));
      break;
    }
    reap_one(cqe);
  }
  if (dir_sync_error_.empty()) return status::ok();
  status s = status::error(std::move(dir_sync_error_));
  dir_sync_error_.clear();
  return s;
}

}  // namespace edgepipe
