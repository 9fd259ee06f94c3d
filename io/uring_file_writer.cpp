#include "io/uring_file_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edgepipe {

namespace {
// user_data tags: slot index for writes, kSyncTag for fdatasync.
constexpr std::uint64_t kSyncTag = ~std::uint64_t{0};
}  // namespace

uring_file_writer::~uring_file_writer() { (void)close(); }

void uring_file_writer::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

status uring_file_writer::open(const std::string& path, uring_file_writer_options options) {
  if (fd_ >= 0) return status::error("writer already open: " + path_);
  path_ = path;
  options_ = options;
  if (options_.buffers < 2) options_.buffers = 2;
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options_.truncate ? O_TRUNC : 0);
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) return status::error(errno_message("cannot open " + path, errno));
  if (!options_.truncate) {
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    file_offset_ = logical_size_ = end > 0 ? static_cast<std::uint64_t>(end) : 0;
  }
  if (!ring_ready_) {
    if (const int rc = io_uring_queue_init(options_.buffers * 2, &ring_, 0); rc < 0) {
      ::close(fd_);
      fd_ = -1;
      return status::error(errno_message("io_uring_queue_init for " + path, -rc));
    }
    ring_ready_ = true;
  }
  slots_.resize(options_.buffers);
  for (auto& s : slots_) s.buf.reserve(options_.buffer_bytes);
  current_ = 0;
  error_.clear();
  return status::ok();
}

bool uring_file_writer::write(std::string_view bytes) {
  if (!error_.empty() || fd_ < 0) return false;
  logical_size_ += bytes.size();
  while (!bytes.empty()) {
    byte_arena& buf = slots_[current_].buf;
    const std::size_t room = options_.buffer_bytes - buf.size();
    const std::size_t n = bytes.size() < room ? bytes.size() : room;
    buf.append(bytes.data(), n);
    bytes.remove_prefix(n);
    if (buf.size() == options_.buffer_bytes) submit_current();
    if (!error_.empty()) return false;
  }
  return true;
}

void uring_file_writer::submit_current() {
  slot& s = slots_[current_];
  if (s.buf.size() == 0) return;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // submission queue full: make room by reaping
    if (!reap(true)) return;
    sqe = io_uring_get_sqe(&ring_);
  }
  io_uring_prep_write(sqe, fd_, s.buf.data(), static_cast<unsigned>(s.buf.size()), file_offset_);
  io_uring_sqe_set_data64(sqe, current_);
  file_offset_ += s.buf.size();
  s.in_flight = true;
  ++in_flight_;
  if (const int rc = io_uring_submit(&ring_); rc < 0) {
    fail(errno_message("io_uring_submit write " + path_, -rc));
    return;
  }
  current_ = (current_ + 1) % options_.buffers;
  // The next buffer may still be in flight from an earlier round: wait for it.
  while (slots_[current_].in_flight && error_.empty()) {
    if (!reap(true)) return;
  }
}

bool uring_file_writer::handle_completion(io_uring_cqe* cqe) {
  const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
  const int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  if (tag == kSyncTag) {
    if (res < 0) fail(errno_message("fdatasync " + path_, -res));
    return res >= 0;
  }
  slot& s = slots_[tag];
  s.in_flight = false;
  --in_flight_;
  if (res < 0) {
    fail(errno_message("write " + path_, -res));
    return false;
  }
  if (static_cast<std::size_t>(res) != s.buf.size()) {
    // On a local file system a short write means the disk is full; report it as such.
    fail("short write to " + path_ + ": " + std::to_string(res) + " of " +
         std::to_string(s.buf.size()) + " bytes (disk full?)");
    return false;
  }
  s.buf.clear();
  return true;
}

bool uring_file_writer::reap(bool wait_one) {
  io_uring_cqe* cqe = nullptr;
  int rc = wait_one ? io_uring_wait_cqe(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
  if (rc == -EAGAIN && !wait_one) return true;
  if (rc < 0) {
    fail(errno_message("io_uring_wait_cqe " + path_, -rc));
    return false;
  }
  return handle_completion(cqe);
}

status uring_file_writer::flush() {
  if (fd_ < 0) return status::ok();
  if (error_.empty()) submit_current();
  while (in_flight_ > 0) {
    io_uring_cqe* cqe = nullptr;
    if (const int rc = io_uring_wait_cqe(&ring_, &cqe); rc < 0) {
      fail(errno_message("io_uring_wait_cqe " + path_, -rc));
      break;
    }
    handle_completion(cqe);
  }
  return error_.empty() ? status::ok() : status::error(error_);
}

status uring_file_writer::sync() {
  if (status s = flush(); !s) return s;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return status::error("io_uring sq full for fdatasync " + path_);
  io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sqe, kSyncTag);
  if (const int rc = io_uring_submit(&ring_); rc < 0)
    return status::error(errno_message("io_uring_submit fdatasync " + path_, -rc));
  io_uring_cqe* cqe = nullptr;
  if (const int rc = io_uring_wait_cqe(&ring_, &cqe); rc < 0)
    return status::error(errno_message("io_uring_wait_cqe " + path_, -rc));
  handle_completion(cqe);
  return error_.empty() ? status::ok() : status::error(error_);
}

status uring_file_writer::close() {
  if (fd_ < 0) {
    if (ring_ready_) {
      io_uring_queue_exit(&ring_);
      ring_ready_ = false;
    }
    return status::ok();
  }
  status s = flush();
  if (::close(fd_) != 0 && s) s = status::error(errno_message("close " + path_, errno));
  fd_ = -1;
  if (ring_ready_) {
    io_uring_queue_exit(&ring_);
    ring_ready_ = false;
  }
  file_offset_ = logical_size_ = 0;
  return s;
}

}  // namespace edgepipe
