#include "stages/spool/spool_cursor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "platform/log.hpp"
#include "stages/spool/spool_format.hpp"

namespace edgepipe {

namespace {
constexpr std::size_t kReadChunk = std::size_t{4} << 20;
constexpr std::size_t kHeaderRead = 4096;
constexpr std::size_t kMaxHeader = std::size_t{1} << 20;
}  // namespace

spool_cursor::spool_cursor(const spool& s, std::vector<std::string> sources)
    : spool_(s), sources_(std::move(sources)), layout_seen_(s.layout_generation()) {}

spool_cursor::~spool_cursor() { close_segment(); }

void spool_cursor::close_segment() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
  buf_file_offset_ = 0;
}

bool spool_cursor::open_segment(const spool_segment& seg) {
  close_segment();
  fd_ = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    error_ = errno_message("spool: cannot open " + seg.path, errno);
    return false;
  }
  segment_ = seg;
  source_map_.clear();
  for (const std::string& name : seg.sources) {
    const auto it = std::find(sources_.begin(), sources_.end(), name);
    source_map_.push_back(it == sources_.end() ? kUnknownSource
                                               : static_cast<source_id>(it - sources_.begin()));
  }
  // The header alone (4 KiB, more only for a long source list), not a whole read chunk: a sink
  // served from the memory tail reads nothing else of the segment. The segment was written with
  // O_DIRECT, so this comes from the disk; the page is dropped again so that the page cache
  // holds nothing of a file the spool is still writing around the cache (every O_DIRECT write
  // to a file with cached pages looks for pages to invalidate).
  offset_ = 0;
  head_.resize(kHeaderRead);
  std::size_t got = read_at(0, head_.data(), head_.size());
  if (const std::size_t total = spool_format::segment_header_size({head_.data(), got});
      total > got && total <= kMaxHeader) {
    head_.resize(total);
    got = read_at(0, head_.data(), head_.size());
  }
  (void)::posix_fadvise(fd_, 0, static_cast<off_t>(head_.size()), POSIX_FADV_DONTNEED);
  if (got == 0) {
    error_ = "spool: " + seg.path + " is empty";
    close_segment();
    return false;
  }
  const auto header = spool_format::parse_segment_header(std::string_view(head_.data(), got));
  if (!header) {
    error_ = "spool: " + seg.path + " has no valid header";
    close_segment();
    return false;
  }
  header_bytes_ = offset_ = header->header_bytes;
  return true;
}

std::size_t spool_cursor::read_at(std::uint64_t offset, char* dst, std::size_t want) {
  std::size_t got = 0;
  while (got < want) {
    const ssize_t r = ::pread(fd_, dst + got, want - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

bool spool_cursor::load(std::size_t n) {
  if (offset_ >= buf_file_offset_ && offset_ + n <= buf_file_offset_ + buf_.size()) return true;
  const std::size_t want = std::max(n, kReadChunk);
  buf_.clear();
  const std::size_t got = read_at(offset_, buf_.prepare(want), want);
  buf_.commit(got);
  buf_file_offset_ = offset_;
  buf_limit_ = limit_;
  return got >= n;
}

bool spool_cursor::file_holds(std::size_t n) const {
  if (offset_ >= buf_file_offset_ && offset_ + n <= buf_file_offset_ + buf_.size()) return true;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return false;
  return offset_ + n <= static_cast<std::uint64_t>(st.st_size);
}

void spool_cursor::seek(std::uint64_t id) {
  close_segment();
  position_ = id;
}

void spool_cursor::seek(const spool_frame_position& pos) {
  spool_segment seg;
  if (spool_.find_segment(pos.first_id, seg) && seg.first_id == pos.segment_first_id &&
      open_segment(seg)) {
    offset_ = pos.offset;
    position_ = pos.first_id;
    return;
  }
  seek(pos.first_id);
}

void spool_cursor::step_over(const spool_frame_position& pos, std::uint64_t frame_bytes) {
  spool_frame_position after = pos;
  after.offset += frame_bytes;
  after.first_id += pos.records;
  after.records = 0;
  if (fd_ >= 0 && segment_.first_id == pos.segment_first_id) {
    offset_ = after.offset;
    position_ = after.first_id;
    return;
  }
  seek(after);
}

spool_cursor::result spool_cursor::skip_to(std::uint64_t id, skip_reason why,
                                           spool_frame_position& pos, skip_reason& reason) {
  if (why == skip_reason::gap && spool_.unused_ids(position_, id)) why = skip_reason::unused;
  pos = {};
  pos.first_id = position_;
  pos.records = static_cast<std::uint32_t>(std::min<std::uint64_t>(id - position_, 0xffffffffu));
  position_ = pos.first_id + pos.records;
  reason = why;
  if (why == skip_reason::dropped) close_segment();
  return result::skipped;
}

spool_cursor::result spool_cursor::leave_segment(bool corrupt, spool_frame_position& pos,
                                                 skip_reason& reason) {
  spool_segment next_seg;
  if (!spool_.next_segment_after(segment_.first_id, next_seg)) return result::none;
  if (!open_segment(next_seg)) return result::none;
  if (next_seg.first_id > position_)
    return skip_to(next_seg.first_id, corrupt ? skip_reason::corrupt : skip_reason::gap, pos,
                   reason);
  return result::none;  // the caller loops
}

spool_cursor::result spool_cursor::next(std::uint64_t limit, record_batch& out,
                                        spool_frame_position& pos, skip_reason& reason) {
  reason = skip_reason::none;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    if (const std::uint64_t gen = spool_.layout_generation(); gen != layout_seen_) {
      // The tail was cut and is being appended again (a disk error): the open segment may be
      // gone or cut, and the frames after position_ elsewhere. Find the place again by id.
      layout_seen_ = gen;
      close_segment();
    }
    // The caller's limit may be from before the spool held its visible end back.
    limit = std::min(limit, spool_.committed_end());
    limit_ = limit;
    if (spool_.dropped_end() > position_)
      return skip_to(spool_.dropped_end(), skip_reason::dropped, pos, reason);
    if (position_ >= limit) return result::none;
    if (fd_ < 0) {
      spool_segment seg;
      if (!spool_.find_segment(position_, seg) || !open_segment(seg)) return result::none;
      if (seg.first_id > position_) {
        if (layout_changed()) continue;
        return skip_to(seg.first_id, skip_reason::gap, pos, reason);
      }
    }
    spool_format::frame_header h;
    auto check = spool_format::frame_check::need_more;
    if (load(spool_format::kFrameHeaderBytes)) {
      const auto view = [&] {
        return buf_.view(offset_ - buf_file_offset_, buf_.size() - (offset_ - buf_file_offset_));
      };
      check = spool_format::check_frame(view(), h);
      if (check == spool_format::frame_check::need_more &&
          file_holds(spool_format::kFrameHeaderBytes + h.body_bytes) &&
          load(spool_format::kFrameHeaderBytes + h.body_bytes))
        check = spool_format::check_frame(view(), h);
    }
    if (check != spool_format::frame_check::ok && buf_limit_ < limit && position_ < limit) {
      // Read before this frame was committed: read it again.
      buf_.clear();
      buf_file_offset_ = offset_;
      continue;
    }
    if (check != spool_format::frame_check::ok && layout_changed()) continue;
    if (check != spool_format::frame_check::ok) {
      const std::size_t at = offset_ - buf_file_offset_;
      const bool padding =
          at <= buf_.size() && spool_format::at_padding(buf_.view(at, buf_.size() - at));
      const bool corrupt = check == spool_format::frame_check::bad && !padding;
      if (corrupt) {
        ++corrupt_frames_;
        log_line(log_level::error, "spool",
                 segment_.path + ": frame at offset " + std::to_string(offset_) +
                     " fails its checksum; skipping to the next segment");
      }
      const std::uint64_t before = segment_.first_id;
      const result r = leave_segment(corrupt, pos, reason);
      if (r == result::skipped) return r;
      if (fd_ < 0 || segment_.first_id == before) return result::none;
      continue;
    }
    const std::size_t size = spool_format::kFrameHeaderBytes + h.body_bytes;
    const std::uint64_t frame_end = h.first_record_id + h.record_count;
    if (frame_end <= position_) {  // before where we were asked to start
      offset_ += size;
      continue;
    }
    if (h.first_record_id > position_) {
      if (layout_changed()) continue;
      return skip_to(h.first_record_id, skip_reason::gap, pos, reason);
    }
    const std::string_view frame = buf_.view(offset_ - buf_file_offset_, size);
    spool_format::decode_frame(frame, h, source_map_, out);
    if (h.first_record_id < position_) {
      auto& recs = out.records();
      recs.erase(recs.begin(),
                 recs.begin() + static_cast<std::ptrdiff_t>(position_ - h.first_record_id));
    }
    pos.segment_first_id = segment_.first_id;
    pos.offset = offset_;
    pos.first_id = position_;
    pos.records = static_cast<std::uint32_t>(frame_end - position_);
    offset_ += size;
    position_ = frame_end;
    return result::frame;
  }
  return result::none;
}

}  // namespace edgepipe
