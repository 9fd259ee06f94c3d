#include "io/uring_file_reader.hpp"

#include "io/file_faults.hpp"
#include "io/uring_wait.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace edgepipe {

uring_file_reader::~uring_file_reader() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (fd_ >= 0) ::close(fd_);
}

status uring_file_reader::open(const std::string& path, std::size_t chunk_bytes) {
  path_ = path;
  chunk_ = read_bytes_ = chunk_bytes;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return errno_status("cannot open " + path, errno);
  if (const int rc = io_uring_queue_init(4, &ring_, 0); rc < 0)
    return errno_status("io_uring_queue_init for " + path, -rc);
  ring_ready_ = true;
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  window_.reserve(chunk_ * 2);
  return status::ok();
}

void uring_file_reader::enable_handoff(std::size_t window_bytes, std::size_t tail_padding,
                                       std::function<void()> handoff) {
  window_bytes_ = window_bytes;
  tail_padding_ = tail_padding;
  // Four reads per window: a hand-off then reads again at most a quarter of it.
  if (chunk_ > window_bytes_ / 4) chunk_ = window_bytes_ / 4 > 0 ? window_bytes_ / 4 : 1;
  read_bytes_ = chunk_;
  handoff_ = std::move(handoff);
  window_.reserve(window_bytes_ + tail_padding_);
}

void uring_file_reader::take_window(byte_arena& arena, bool read_little_next) {
  const std::uint64_t resume = position();
  const bool drained = start_ == window_.size();
  window_.swap(arena);
  window_.clear();
  window_.reserve(window_bytes_ + tail_padding_);
  start_ = 0;
  pinned_ = 0;
  window_base_ = next_read_offset_ = resume;
  file_eof_ = file_eof_ && drained;
  read_bytes_ = read_little_next ? std::min(chunk_, kFirstReadAfterHandoff) : chunk_;
}

status uring_file_reader::read_more() {
  if (pinned_ > 0 && window_.size() + read_bytes_ + tail_padding_ > window_.capacity()) {
    handoff_();  // calls take_window(): the caller takes the pinned window
    if (pinned_ > 0) return status::error("zero-copy reader of " + path_ + ": window not taken");
  }
  if (pinned_ == 0 && start_ > 0) {  // compact: keep only the unconsumed tail (a partial frame)
    const std::size_t left = window_.size() - start_;
    std::memmove(window_.data(), window_.data() + start_, left);
    window_.truncate(left);
    window_base_ += start_;
    start_ = 0;
  }
  // Grows only for a frame larger than a chunk (never while pinned: checked above).
  const std::size_t want = read_bytes_;
  read_bytes_ = std::min(chunk_, read_bytes_ * 2);
  char* const into = window_.prepare(want + tail_padding_);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return status::error("io_uring sq full reading " + path_);
  io_uring_prep_read(sqe, fd_, into, static_cast<unsigned>(want), next_read_offset_);
  if (const int rc = io_uring_submit(&ring_); rc < 0)
    return errno_status("io_uring_submit read " + path_, -rc);
  io_uring_cqe* cqe = nullptr;
  if (const int rc = wait_cqe_retrying(&ring_, &cqe); rc < 0)
    return errno_status("io_uring_wait_cqe " + path_, -rc);
  const int res = file_faults::apply(file_faults::op::read, path_, next_read_offset_, cqe->res);
  io_uring_cqe_seen(&ring_, cqe);
  if (res < 0)
    return errno_status("read " + path_ + " at offset " + std::to_string(next_read_offset_), -res);
  if (res == 0) {
    file_eof_ = true;
    return status::ok();
  }
  window_.commit(static_cast<std::size_t>(res));
  if (tail_padding_ != 0) std::memset(window_.data() + window_.size(), 0, tail_padding_);
  next_read_offset_ += static_cast<std::uint64_t>(res);
  return status::ok();
}

status uring_file_reader::fill(std::size_t n) {
  while (window_.size() - start_ < n && !file_eof_) {
    if (status s = read_more(); !s) return s;
  }
  return status::ok();
}

}  // namespace edgepipe
