#include "io/uring_file_writer.hpp"

#include <emmintrin.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "io/file_faults.hpp"
#include "io/uring_wait.hpp"

namespace edgepipe {

namespace {
/// N when `path` names this process's descriptor N: /proc/self/fd/N, /dev/fd/N, or a symlink
/// that leads there (/dev/stdout, /dev/stderr); -1 for any other path.
int own_descriptor(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path self = "/proc/" + std::to_string(::getpid());
  std::error_code ec;
  fs::path p(path);
  for (int hops = 0; hops < 40; ++hops) {  // the kernel's own bound on a symlink chain
    const fs::path dir = fs::canonical(p.has_parent_path() ? p.parent_path() : ".", ec);
    if (ec) return -1;
    if (dir.filename() == "fd" &&
        (dir.parent_path() == self || dir.parent_path().parent_path() == self / "task")) {
      const std::string name = p.filename().string();
      int fd = -1;
      const auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), fd);
      return err == std::errc() && end == name.data() + name.size() ? fd : -1;
    }
    const fs::path full = dir / p.filename();
    if (!fs::is_symlink(full, ec)) return -1;
    const fs::path target = fs::read_symlink(full, ec);
    if (ec) return -1;
    p = target.is_absolute() ? target : dir / target;
  }
  return -1;
}

// user_data tags: slot index for writes, kSyncTag for fdatasync.
constexpr std::uint64_t kSyncTag = ~std::uint64_t{0};

/// memcpy with non-temporal stores, for direct I/O buffers: the disk reads them by DMA and no
/// CPU reads them again, so fetching their cache lines first (a normal store's read for
/// ownership) and keeping them cached is wasted. glibc's memcpy only streams copies larger than
/// ~3/4 of the L3 cache (figures: benchmarks/README.md).
void copy_streaming(char* dst, const char* src, std::size_t n) noexcept {
  const std::size_t head = (16 - (reinterpret_cast<std::uintptr_t>(dst) & 15)) & 15;
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  n -= head;
  for (; n >= 64; n -= 64, src += 64, dst += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 48), d);
  }
  std::memcpy(dst, src, n);
  _mm_sfence();  // the streamed stores are visible before the write is submitted
}
}  // namespace

uring_file_writer::~uring_file_writer() { (void)close(); }

void uring_file_writer::fail(std::string message, int code) {
  if (!error_.empty()) return;
  error_ = std::move(message);
  error_code_ = code;
}

status uring_file_writer::open(const std::string& path, uring_file_writer_options options) {
  if (fd_ >= 0) return status::error("writer already open: " + path_);
  path_ = path;
  options_ = options;
  if (options_.buffers < 2) options_.buffers = 2;
  if (!options_.truncate) options_.direct = false;  // the tail block would need reading back
  options_.buffer_bytes = (options_.buffer_bytes + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  direct_ = false;
  fd_ = -1;
  sync_stream_ = false;
  // One of this process's own descriptors (`--sink file:/dev/stdout > out.jsonl`) is used
  // through a duplicate, not opened again: a new open of a regular file would write from
  // offset 0 on an offset of its own, and what the process writes there next (the replay's
  // summary) would land over the first records instead of after the last. Written as a
  // stream; a regular file behind it is still fdatasynced.
  if (const int own = own_descriptor(path); own >= 0) {
    fd_ = ::fcntl(own, F_DUPFD_CLOEXEC, 3);
    if (fd_ < 0)
      return errno_status("cannot use " + path + " (descriptor " + std::to_string(own) + ")",
                          errno);
    struct stat st {};
    sync_stream_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    stream_ = true;
    options_.direct = false;
  }
  struct stat target {};
  const bool exists = fd_ < 0 && ::stat(path.c_str(), &target) == 0;  // follows a symlink
  const bool fifo = exists && S_ISFIFO(target.st_mode);
  if (fd_ < 0) stream_ = fifo || (exists && S_ISCHR(target.st_mode));
  if (stream_) options_.direct = false;
  // A named pipe is opened without blocking: with no reader that fails (ENXIO) rather than
  // waiting for one; the descriptor then blocks like any other.
  const int flags =
      O_WRONLY | O_CREAT | O_CLOEXEC | (options_.truncate ? O_TRUNC : 0) | (fifo ? O_NONBLOCK : 0);
  if (fifo) {
    fd_ = ::open(path.c_str(), flags, 0644);
    if (fd_ < 0 && errno == ENXIO)
      return status::error("cannot open " + path + ": a pipe that no process reads", ENXIO);
    if (fd_ < 0) return errno_status("cannot open " + path, errno);
    const int fl = ::fcntl(fd_, F_GETFL);
    if (fl < 0 || ::fcntl(fd_, F_SETFL, fl & ~O_NONBLOCK) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      return errno_status("cannot make the writes to " + path + " blocking", err);
    }
  }
  if (fd_ < 0 && options_.direct) {
    fd_ = ::open(path.c_str(), flags | O_DIRECT, 0644);
    direct_ = fd_ >= 0;
    if (fd_ < 0 && errno != EINVAL) return errno_status("cannot open " + path, errno);
  }
  if (fd_ < 0) fd_ = ::open(path.c_str(), flags, 0644);  // no O_DIRECT here: buffered
  if (fd_ < 0) return errno_status("cannot open " + path, errno);
  if (direct_) {
    shadow_fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // for expose(): buffered
    if (shadow_fd_ < 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      return errno_status("cannot open " + path, err);
    }
  }
  if (!options_.truncate && !stream_) {
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    file_offset_ = logical_size_ = end > 0 ? static_cast<std::uint64_t>(end) : 0;
  }
  if (!ring_ready_) {
    if (const int rc = io_uring_queue_init(options_.buffers * 2, &ring_, 0); rc < 0) {
      ::close(fd_);
      fd_ = -1;
      return errno_status("io_uring_queue_init for " + path, -rc);
    }
    ring_ready_ = true;
  }
  if (slots_.size() != options_.buffers || slot_bytes_ != options_.buffer_bytes) {
    for (unsigned i = 0; i < slots_.size(); ++i) free_slot(i);
    if (sparse_table_) (void)io_uring_unregister_buffers(&ring_);
    sparse_table_ = false;
    slots_.clear();
    slots_.resize(options_.buffers);
    slot_bytes_ = options_.buffer_bytes;
  }
  // Registered buffers: the kernel pins their pages once per ring instead of at every write
  // (direct I/O otherwise looks up and pins every page of every write). The table is sparse and
  // each buffer joins it when it is first allocated, so unused buffers cost nothing. Without
  // the memlock allowance for them (or a kernel without sparse tables), writes simply go
  // unregistered.
  if (!sparse_table_) {
    sparse_table_ = io_uring_register_buffers_sparse(&ring_, options_.buffers) == 0;
    for (unsigned i = 0; i < slots_.size() && sparse_table_; ++i) {
      if (!slots_[i].data) continue;
      iovec iov{slots_[i].data.get(), slot_bytes_};
      slots_[i].registered = io_uring_register_buffers_update_tag(&ring_, i, &iov, nullptr, 1) == 1;
    }
  }
  for (auto& s : slots_) {
    s.size = s.submitted = 0;
    s.sync_covers = false;
  }
  sync_in_flight_ = sync_submitted_ = sync_held_ = false;
  sync_waits_for_ = 0;
  guard_slot_ = -1;
  file_offset_ = logical_size_ = options_.truncate ? 0 : file_offset_;
  submitted_end_ = shadow_start_ = shadow_end_ = file_offset_;
  current_ = 0;
  error_.clear();
  error_code_ = 0;
  return status::ok();
}

bool uring_file_writer::write(std::string_view bytes) {
  if (!error_.empty() || fd_ < 0) return false;
  logical_size_ += bytes.size();
  while (!bytes.empty()) {
    if (!slots_[current_].data) allocate_slot(current_);
    slot& buf = slots_[current_];
    const std::size_t room = options_.buffer_bytes - buf.size;
    const std::size_t n = bytes.size() < room ? bytes.size() : room;
    if (direct_ && n >= 4096)
      copy_streaming(buf.data.get() + buf.size, bytes.data(), n);
    else
      std::memcpy(buf.data.get() + buf.size, bytes.data(), n);
    buf.size += n;
    bytes.remove_prefix(n);
    if (buf.size == options_.buffer_bytes) submit_current();
    if (!error_.empty()) return false;
  }
  return true;
}

void uring_file_writer::prep_write(io_uring_sqe* sqe, unsigned index, std::uint64_t offset) {
  slot& s = slots_[index];
  if (s.registered)
    io_uring_prep_write_fixed(sqe, fd_, s.data.get(), static_cast<unsigned>(s.submitted), offset,
                              static_cast<int>(index));
  else
    io_uring_prep_write(sqe, fd_, s.data.get(), static_cast<unsigned>(s.submitted), offset);
}

void uring_file_writer::submit_current() {
  slot& s = slots_[current_];
  if (s.size == 0) return;
  if (stream_) return write_inline(current_);  // in order, short writes resumed
  // Direct I/O: this write starts with the block a padded write still in flight also covers;
  // two writes of one block in flight could land in either order, so that one completes first.
  while (guard_slot_ >= 0 && slots_[static_cast<unsigned>(guard_slot_)].in_flight &&
         error_.empty()) {
    if (!reap(true)) return;
  }
  guard_slot_ = -1;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // submission queue full: make room by reaping
    if (!reap(true)) return;
    sqe = io_uring_get_sqe(&ring_);
  }
  // Direct I/O writes whole blocks: a partial last block goes out padded with zeros (flush()
  // then carries its bytes over so the next write rewrites that block).
  s.submitted = s.size;
  if (direct_ && s.size % kDirectAlign != 0) {
    s.submitted = (s.size + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memset(s.data.get() + s.size, 0, s.submitted - s.size);
  }
  prep_write(sqe, current_, file_offset_);
  io_uring_sqe_set_data64(sqe, current_);
  s.at = file_offset_;
  file_offset_ += s.size;
  submitted_end_ = file_offset_;
  s.in_flight = true;
  ++in_flight_;
  if (const int rc = io_uring_submit(&ring_); rc < 0) {
    fail(errno_message("io_uring_submit write " + path_, -rc), -rc);
    return;
  }
  advance();
}

void uring_file_writer::advance() {
  for (;;) {
    io_uring_cqe* cqe = nullptr;  // completions already there, without waiting
    while (in_flight_ > 0 && error_.empty() && io_uring_peek_cqe(&ring_, &cqe) == 0)
      handle_completion(cqe);
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (slots_[i].data && !slots_[i].in_flight) {
        current_ = i;
        return;
      }
    }
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].data) {
        allocate_slot(i);
        current_ = i;
        return;
      }
    }
    if (!error_.empty() || !reap(true)) return;  // every buffer in flight: wait for one
  }
}

void uring_file_writer::allocate_slot(unsigned index) {
  slot& s = slots_[index];
  s.data.reset(static_cast<char*>(std::aligned_alloc(kDirectAlign, slot_bytes_)));
  if (!s.data) throw std::bad_alloc();
  s.size = s.submitted = 0;
  ++allocated_slots_;
  if (sparse_table_) {
    iovec iov{s.data.get(), slot_bytes_};
    s.registered = io_uring_register_buffers_update_tag(&ring_, index, &iov, nullptr, 1) == 1;
  }
}

void uring_file_writer::free_slot(unsigned index) {
  slot& s = slots_[index];
  if (!s.data) return;
  if (s.registered) {
    iovec none{nullptr, 0};
    (void)io_uring_register_buffers_update_tag(&ring_, index, &none, nullptr, 1);
    s.registered = false;
  }
  s.data.reset();
  s.size = s.submitted = 0;
  --allocated_slots_;
}

std::size_t uring_file_writer::trim() {
  std::size_t freed = 0;
  for (unsigned i = 0; i < slots_.size(); ++i) {
    slot& s = slots_[i];
    if (!s.data || s.in_flight || s.size != 0 || static_cast<int>(i) == guard_slot_) continue;
    free_slot(i);
    freed += slot_bytes_;
  }
  return freed;
}

bool uring_file_writer::handle_completion(io_uring_cqe* cqe) {
  const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
  const int res = file_faults::apply(
      tag == kSyncTag ? file_faults::op::sync : file_faults::op::write, path_, 0, cqe->res);
  io_uring_cqe_seen(&ring_, cqe);
  if (tag == kSyncTag && file_faults::holding(file_faults::op::sync, path_)) {
    sync_submitted_ = false;  // off the ring; in flight until released (complete_held_sync)
    sync_held_ = true;
    held_result_ = res;
    return true;
  }
  if (tag == kSyncTag) {
    sync_in_flight_ = false;
    sync_submitted_ = false;
    if (res < 0) fail(errno_message("fdatasync " + path_, -res), -res);
    if (res >= 0) ++syncs_completed_;
    return res >= 0;
  }
  slot& s = slots_[tag];
  s.in_flight = false;
  --in_flight_;
  if (s.sync_covers) {
    s.sync_covers = false;
    --sync_waits_for_;
    if (res >= 0) submit_sync_if_ready();
  }
  if (res < 0) {
    fail(errno_message("write " + path_, -res), -res);
    return false;
  }
  if (static_cast<std::size_t>(res) != s.submitted) {
    // On a local file system a short write means the disk is full; report it as such.
    fail("short write to " + path_ + ": " + std::to_string(res) + " of " +
             std::to_string(s.submitted) + " bytes: " + std::strerror(ENOSPC),
         ENOSPC);
    return false;
  }
  s.size = s.submitted = 0;
  return true;
}

bool uring_file_writer::reap(bool wait_one) {
  io_uring_cqe* cqe = nullptr;
  int rc = wait_one ? wait_cqe_retrying(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
  if (rc == -EAGAIN && !wait_one) return true;
  if (rc < 0) {
    fail(errno_message("io_uring_wait_cqe " + path_, -rc), -rc);
    return false;
  }
  return handle_completion(cqe);
}

status uring_file_writer::flush() {
  if (fd_ < 0) return status::ok();
  if (error_.empty()) submit_partial();
  while (in_flight_ > 0) {
    io_uring_cqe* cqe = nullptr;
    if (const int rc = wait_cqe_retrying(&ring_, &cqe); rc < 0) {
      fail(errno_message("io_uring_wait_cqe " + path_, -rc), -rc);
      break;
    }
    handle_completion(cqe);
  }
  guard_slot_ = -1;  // nothing is in flight now
  return error_.empty() ? status::ok() : status::error(error_, error_code_);
}

void uring_file_writer::submit_partial() {
  const unsigned last = current_;
  const std::size_t size = slots_[last].size;
  if (size == 0) return;
  if (stream_ || (!direct_ && size <= kInlineWriteBytes)) return write_inline(last);
  const std::size_t tail = direct_ ? size % kDirectAlign : 0;
  submit_current();  // moves on to a free slot
  if (tail == 0 || !error_.empty()) return;
  // The partial block went out padded; it is written again, with what follows, from the start
  // of the next slot -- once the padded write has completed (guard_slot_).
  slot& next = slots_[current_];
  std::memcpy(next.data.get(), slots_[last].data.get() + (size - tail), tail);
  next.size = tail;
  file_offset_ -= tail;
  guard_slot_ = static_cast<int>(last);
}

status uring_file_writer::start_sync(bool include_partial) {
  if (sync_in_flight_) {
    if (status st = poll_sync(true); !st) return st;
  }
  if (fd_ < 0) return status::error("fdatasync of a closed writer");
  if (stream_) {  // written in order on this thread; nothing to fdatasync but a regular file
    if (error_.empty()) submit_partial();
    if (error_.empty() && sync_stream_ && ::fdatasync(fd_) != 0) {
      const int err = errno;
      fail(errno_message("fdatasync " + path_, err), err);
    }
    if (error_.empty()) ++syncs_completed_;
    return error_.empty() ? status::ok() : status::error(error_, error_code_);
  }
  // Everything in the buffer being filled is exposed (in the page cache): the fdatasync covers
  // it with no padded direct write, which the next write would have to wait for.
  const bool exposed = shadow_end_ == logical_size_ && shadow_start_ <= file_offset_;
  if (error_.empty() && include_partial && !exposed) submit_partial();
  if (!error_.empty()) return status::error(error_, error_code_);
  // The fdatasync must cover every write submitted so far, so it starts once they have
  // completed. It is not put on the ring with IOSQE_IO_DRAIN: that would also hold back every
  // write submitted after it until the disk has flushed, and the buffers would fill behind a
  // slow flush. The writes after it go on; they are covered by the next sync.
  sync_waits_for_ = 0;
  for (slot& sl : slots_) {
    sl.sync_covers = sl.in_flight;
    if (sl.in_flight) ++sync_waits_for_;
  }
  sync_in_flight_ = true;
  sync_submitted_ = false;
  submit_sync_if_ready();
  return error_.empty() ? status::ok() : status::error(error_, error_code_);
}

void uring_file_writer::submit_sync_if_ready() {
  if (!sync_in_flight_ || sync_submitted_ || sync_waits_for_ != 0 || !error_.empty()) return;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {  // the ring is sized for every slot and a sync: cannot happen
    fail("io_uring submission queue full for fdatasync " + path_);
    return;
  }
  io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sqe, kSyncTag);
  if (const int rc = io_uring_submit(&ring_); rc < 0) {
    fail(errno_message("io_uring_submit fdatasync " + path_, -rc), -rc);
    return;
  }
  sync_submitted_ = true;
}

bool uring_file_writer::complete_held_sync() {
  if (!sync_held_ || file_faults::holding(file_faults::op::sync, path_)) return false;
  sync_held_ = sync_in_flight_ = false;
  if (held_result_ < 0) {
    fail(errno_message("fdatasync " + path_, -held_result_), -held_result_);
  } else {
    ++syncs_completed_;
  }
  return true;
}

status uring_file_writer::poll_sync(bool wait) {
  while (sync_in_flight_ && error_.empty()) {
    if (sync_held_) {  // tests only (io/file_faults): a flush that lags
      if (complete_held_sync()) continue;
      if (!wait) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    io_uring_cqe* cqe = nullptr;
    const int rc = wait ? wait_cqe_retrying(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
    if (rc == -EAGAIN && !wait) break;
    if (rc < 0) {
      fail(errno_message("io_uring_wait_cqe " + path_, -rc), -rc);
      break;
    }
    handle_completion(cqe);
  }
  return error_.empty() ? status::ok() : status::error(error_, error_code_);
}

bool uring_file_writer::pwrite_all(int fd, const char* src, std::size_t n, std::uint64_t at) {
  while (n != 0) {
    ssize_t r = stream_ ? ::write(fd, src, n) : ::pwrite(fd, src, n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    r = file_faults::apply(file_faults::op::write, path_, at,
                           r < 0 ? -errno : static_cast<int>(std::min<ssize_t>(r, 1 << 30)));
    if (r < 0) {
      fail(errno_message("write " + path_, static_cast<int>(-r)), static_cast<int>(-r));
      return false;
    }
    if (r == 0) {
      fail("short write to " + path_ + ": " + std::strerror(ENOSPC), ENOSPC);
      return false;
    }
    src += r;
    at += static_cast<std::uint64_t>(r);
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

void uring_file_writer::write_inline(unsigned index) {
  slot& s = slots_[index];
  if (!pwrite_all(fd_, s.data.get(), s.size, file_offset_)) return;
  file_offset_ += s.size;
  submitted_end_ = file_offset_;
  s.size = s.submitted = 0;
}

status uring_file_writer::expose() {
  if (fd_ < 0) return status::ok();
  if (stream_) {  // a stream has no page cache to put bytes in ahead: they go out now
    if (error_.empty()) submit_partial();
    return error_.empty() ? status::ok() : status::error(error_, error_code_);
  }
  // A padded direct write of the block this starts in may still be in flight.
  while (guard_slot_ >= 0 && slots_[static_cast<unsigned>(guard_slot_)].in_flight &&
         error_.empty()) {
    if (!reap(true)) break;
  }
  if (!error_.empty()) return status::error(error_, error_code_);
  const std::uint64_t from = std::max(shadow_end_, file_offset_);
  if (from >= logical_size_) return status::ok();
  // The buffer being filled holds the file from file_offset_ to logical_size_.
  const char* src = slots_[current_].data.get() + (from - file_offset_);
  const std::size_t left = logical_size_ - from;
  const std::uint64_t at = from;
  const int fd = shadow_fd_ >= 0 ? shadow_fd_ : fd_;
  if (!pwrite_all(fd, src, left, at)) return status::error(error_, error_code_);
  if (shadow_end_ != from) shadow_start_ = from;
  shadow_end_ = logical_size_;
  return status::ok();
}

std::uint64_t uring_file_writer::visible_bytes() const noexcept {
  std::uint64_t done = submitted_end_;
  if (in_flight_ != 0)
    for (const slot& s : slots_)
      if (s.in_flight && s.at < done) done = s.at;
  return shadow_start_ <= done && shadow_end_ > done ? shadow_end_ : done;
}

status uring_file_writer::reap_completed() {
  (void)complete_held_sync();
  while (ring_ready_ && error_.empty() && (in_flight_ != 0 || sync_submitted_)) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_, &cqe) != 0) break;
    handle_completion(cqe);
  }
  return error_.empty() ? status::ok() : status::error(error_, error_code_);
}

status uring_file_writer::sync() {
  if (status s = start_sync(); !s) return s;
  return poll_sync(true);
}

status uring_file_writer::close(bool sync, bool keep_ring) {
  if (fd_ < 0) {
    if (ring_ready_) {
      io_uring_queue_exit(&ring_);
      ring_ready_ = false;
      sparse_table_ = false;
      for (slot& sl : slots_) sl.registered = false;
    }
    return status::ok();
  }
  status s = flush();
  if (status w = poll_sync(true); !w && s) s = w;
  // After a failed write poll_sync() stops waiting, but an fdatasync may still be on the ring:
  // reap it here, or a kept ring hands its completion to the next file's first sync, which
  // then counts as done before its writes are (records published that were never written).
  while (sync_submitted_) {
    io_uring_cqe* cqe = nullptr;
    if (wait_cqe_retrying(&ring_, &cqe) < 0) break;
    (void)handle_completion(cqe);
  }
  if (s && direct_ && logical_size_ % kDirectAlign != 0 &&
      ::ftruncate(fd_, static_cast<off_t>(logical_size_)) != 0)
    s = errno_status("cannot cut the padding of " + path_, errno);
  if (s && sync && (!stream_ || sync_stream_) && ::fdatasync(fd_) != 0)
    s = errno_status("fdatasync " + path_, errno);
  if (::close(fd_) != 0 && s) s = errno_status("close " + path_, errno);
  fd_ = -1;
  if (shadow_fd_ >= 0) ::close(shadow_fd_);
  shadow_fd_ = -1;
  sync_in_flight_ = sync_submitted_ = sync_held_ = false;
  sync_waits_for_ = 0;
  for (slot& sl : slots_) sl.sync_covers = false;
  if (ring_ready_ && !keep_ring) {
    io_uring_queue_exit(&ring_);
    ring_ready_ = false;
    sparse_table_ = false;
    for (slot& sl : slots_) sl.registered = false;
  }
  file_offset_ = logical_size_ = 0;
  return s;
}

}  // namespace edgepipe
