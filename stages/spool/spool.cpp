#include "stages/spool/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/file_ops.hpp"
#include "io/uring_file_reader.hpp"
#include "platform/log.hpp"
#include "stages/spool/spool_format.hpp"

namespace edgepipe {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLedgerKey = "confirmed_end=";

/// Reads the first bytes of a file (a segment header is small).
std::string read_prefix(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open directory " + dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status("fsync " + dir, err);
  return status::ok();
}

struct scan_result {
  std::uint64_t end_id = 0;
  std::uint64_t good_bytes = 0;
  std::uint64_t file_bytes = 0;
  bool padding = false;  // everything after good_bytes is zeros (direct-I/O padding, not torn)
  std::string error;
};

/// Checks every frame of a segment; stops at the first that is incomplete or fails its CRC.
scan_result scan_segment(const std::string& path, std::uint64_t header_bytes,
                         std::uint64_t first_id) {
  scan_result r;
  r.end_id = first_id;
  std::error_code ec;
  r.file_bytes = fs::file_size(path, ec);
  uring_file_reader reader;
  if (status s = reader.open(path, std::size_t{4} << 20); !s) {
    r.error = s.message();
    return r;
  }
  if (status s = reader.fill(header_bytes); !s) {
    r.error = s.message();
    return r;
  }
  reader.consume(std::min<std::size_t>(header_bytes, reader.available().size()));
  r.good_bytes = reader.position();
  for (;;) {
    spool_format::frame_header h;
    auto check = spool_format::check_frame(reader.available(), h);
    if (check == spool_format::frame_check::need_more && !reader.file_eof()) {
      const std::size_t want = reader.available().size() < spool_format::kFrameHeaderBytes
                                   ? spool_format::kFrameHeaderBytes
                                   : spool_format::kFrameHeaderBytes + h.body_bytes;
      if (status s = reader.fill(want); !s) {
        r.error = s.message();
        return r;
      }
      continue;
    }
    if (check != spool_format::frame_check::ok || h.first_record_id != r.end_id) {
      // A crash after a direct-I/O write of a partial block leaves zeros up to the block's end.
      const std::uint64_t rest = r.file_bytes - r.good_bytes;
      if (rest != 0 && rest < 64 * 1024 && reader.available().size() < rest && !reader.file_eof())
        (void)reader.fill(rest);
      if (rest != 0 && rest < 64 * 1024 && reader.available().size() >= rest) {
        const std::string_view tail = reader.available().substr(0, rest);
        r.padding = tail.find_first_not_of('\0') == std::string_view::npos;
      }
      break;
    }
    const std::size_t frame_bytes = spool_format::kFrameHeaderBytes + h.body_bytes;
    reader.consume(frame_bytes);
    r.end_id += h.record_count;
    r.good_bytes = reader.position();
  }
  return r;
}

}  // namespace

std::optional<std::uint64_t> parse_ledger(std::string_view text) {
  const auto at = text.find(kLedgerKey);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = text.data() + at + kLedgerKey.size();
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
  if (ec != std::errc() || end == begin) return std::nullopt;
  return v;
}

std::string_view parse_ledger_state(std::string_view text) {
  const auto at = text.find(kLedgerKey);
  if (at == std::string_view::npos) return {};
  const auto eol = text.find('\n', at);
  return eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
}

std::string spool::ledger_path(const std::string& sink) const {
  return (fs::path(config_.dir) / (sink + ".ledger")).string();
}

status spool::open(const std::vector<std::string>& sink_names, bool read_only) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  if (read_only) {
    if (!fs::is_directory(config_.dir, ec))
      return status::error("spool directory " + config_.dir + " does not exist");
  } else {
    fs::create_directories(config_.dir, ec);
    if (ec)
      return status::error("cannot create spool directory " + config_.dir + ": " + ec.message());
  }
  // The id lease first: recovery ends a segment before ids that were never used.
  if (status s = lease_.open(config_.dir, lease_floor_); !s) return s;
  if (status s = recover(read_only); !s) return s;
  const std::uint64_t oldest = segments_.empty() ? next_id_ : segments_.front().first_id;
  for (const std::string& name : sink_names) {
    auto slot = std::make_unique<sink_slot>();
    slot->name = name;
    slot->ledger_path = ledger_path(name);
    slot->ledger_tmp = slot->ledger_path + ".tmp";
    slot->persisted_state.reserve(kMaxLedgerStateBytes);  // no allocation in persist_ledger()
    slot->pending_state.reserve(kMaxLedgerStateBytes);    // nor in persist_ledger_async()
    std::uint64_t w = oldest;
    std::ifstream in(ledger_path(name));
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      const std::string all = text.str();
      if (auto v = parse_ledger(all)) {
        const std::string_view state = parse_ledger_state(all);
        slot->persisted_state.assign(state.substr(0, kMaxLedgerStateBytes));
        w = std::max(*v, oldest);
        next_id_ = std::max(next_id_, *v);  // ids never go backwards, even after a cut tail
      } else {
        log_line(log_level::warn, "spool",
                 "ledger " + ledger_path(name) + " is unreadable; sink " + name +
                     " starts again at the oldest segment (duplicates possible)");
      }
    }
    slot->watermark.store(w);
    slot->persisted = w;
    sinks_.push_back(std::move(slot));
  }
  if (!read_only) {
    // Ids a run that did not stop cleanly may have handed to the sinks before a power cut took
    // them from the spool are never given again (stages/spool/spool_id_lease).
    const std::uint64_t floor = lease_floor_;
    if (floor > next_id_) {
      log_line(log_level::info, "spool",
               "ids " + std::to_string(next_id_) + ".." + std::to_string(floor) +
                   " were leased by a run that did not stop cleanly: they are left unused");
      for (auto& slot : sinks_) {
        if (slot->watermark.load() >= next_id_) slot->watermark.store(floor);  // none to read
      }
      lease_.add_unused(next_id_, floor);
      if (status s = lease_.grant(floor); !s) return s;  // the range is kept in the file
      next_id_ = floor;
    }
  }
  if (!floor_segment_.empty() && next_id_ > floor_segment_id_) {
    std::error_code remove_ec;  // a ledger now carries the floor: the empty segment can go
    fs::remove(floor_segment_, remove_ec);
  }
  floor_segment_.clear();
  committed_.store(next_id_);
  durable_.store(next_id_);
  recovery_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return status::ok();
}

status spool::recover(bool read_only) {
  std::vector<std::pair<std::uint64_t, std::string>> files;
  std::error_code ec;
  std::vector<std::uint64_t> all_ids;  // of every segment file, .corrupt ones too
  for (const auto& entry : fs::directory_iterator(config_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (auto id = spool_format::parse_segment_file_name(name)) {
      files.emplace_back(*id, entry.path().string());
      all_ids.push_back(*id);
    } else if (name.size() > 8 && name.ends_with(".corrupt")) {
      if (auto cid = spool_format::parse_segment_file_name(name.substr(0, name.size() - 8)))
        all_ids.push_back(*cid);
    }
  }
  if (ec) return status::error("cannot list spool directory " + config_.dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::sort(all_ids.begin(), all_ids.end());
  // Headers first: a last file without a valid header is a roll cut short (removed); an earlier
  // one is damage (renamed to .corrupt, its records reported as a gap by the readers).
  for (std::size_t i = 0; i < files.size(); ++i) {
    const bool last = i + 1 == files.size();
    const std::string& path = files[i].second;
    auto header = spool_format::parse_segment_header(read_prefix(path, 64 * 1024));
    if (!header || header->first_record_id != files[i].first) {
      ++recovery_.removed_segments;
      log_line(log_level::error, "spool",
               "segment " + path + " has no valid header" +
                   (last ? " (a roll cut short): removed" : ": renamed to .corrupt"));
      if (!read_only) {
        if (last)
          fs::remove(path, ec);
        else
          fs::rename(path, path + ".corrupt", ec);
      }
      continue;
    }
    spool_segment seg;
    seg.first_id = seg.end_id = header->first_record_id;
    seg.path = path;
    seg.sources = std::move(header->sources);
    seg.bytes = fs::file_size(path, ec);
    header_bytes_of_last_ = header->header_bytes;
    segments_.push_back(std::move(seg));
  }
  // The last segment is the one a crash can leave torn: check every frame of it. When it holds
  // no record it goes, and the one before it is then the last: checked the same way (otherwise
  // its end would stay at its first id and the next segment would reuse, and truncate, it).
  std::uint64_t floor_id = 0;  // ids never go backwards, not even past a removed segment
  while (!segments_.empty()) {
    spool_segment& seg = segments_.back();
    const std::string& path = seg.path;
    scan_result scan = scan_segment(path, header_bytes_of_last_, seg.first_id);
    if (!scan.error.empty()) return status::error("spool: " + scan.error);
    seg.end_id = scan.end_id;
    if (scan.good_bytes < scan.file_bytes) {
      const std::uint64_t torn = scan.file_bytes - scan.good_bytes;
      if (scan.padding) {
        log_line(log_level::info, "spool",
                 "segment " + path + ": " + std::to_string(torn) +
                     " bytes of zero padding after record " + std::to_string(scan.end_id) +
                     (read_only ? " (left as is)" : ": cut"));
      } else {
        recovery_.torn_tail_bytes += torn;
        log_line(log_level::warn, "spool",
                 "segment " + path + ": torn tail of " + std::to_string(torn) +
                     " bytes after record " + std::to_string(scan.end_id) +
                     (read_only ? " (left as is)" : ": cut"));
      }
      if (!read_only) {
        if (::truncate(path.c_str(), static_cast<off_t>(scan.good_bytes)) != 0)
          return errno_status("cannot cut the torn tail of " + path, errno);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          (void)::fdatasync(fd);
          ::close(fd);
        }
      }
      seg.bytes = scan.good_bytes;
    }
    if (seg.end_id != seg.first_id) break;
    // No record in it (a run that stopped before its first batch, or a start that failed after
    // opening its segment): this run starts its own segment at the same id, so this one goes,
    // except the highest one while it is the only record of the id floor (below).
    floor_id = std::max(floor_id, seg.first_id);
    if (!read_only) {
      if (floor_segment_.empty()) {
        floor_segment_ = path;
        floor_segment_id_ = seg.first_id;
      } else {
        fs::remove(path, ec);
      }
    }
    segments_.pop_back();
    if (!segments_.empty()) {
      const auto h =
          spool_format::parse_segment_header(read_prefix(segments_.back().path, 64 * 1024));
      header_bytes_of_last_ = h ? h->header_bytes : 0;  // parsed above: cannot fail
    }
  }
  // Earlier segments end where the next begins (rolls are contiguous; a gap left by a cut tail
  // is skipped by the readers).
  // A damaged segment (renamed .corrupt now or at an earlier start) ends the one before it: its
  // records are a gap, not part of the segment before.
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
    const auto next = std::upper_bound(all_ids.begin(), all_ids.end(), segments_[i].first_id);
    segments_[i].end_id =
        lease_.unused_start_in(segments_[i].first_id, std::min(segments_[i + 1].first_id, *next));
  }
  for (const auto& s : segments_) {
    recovery_.records += s.end_id - s.first_id;
    recovery_.bytes += s.bytes;
  }
  recovery_.segments = segments_.size();
  const std::uint64_t end = segments_.empty() ? 0 : segments_.back().end_id;
  next_id_ = std::max(floor_id, end);
  // When the segments left end below the floor (their tail was cut, or the segment before the
  // empty one was set aside as .corrupt), removing the empty segment would lose the floor: a
  // start that fails before writing its own segment would let the next one reuse ids. Its file
  // stays until the appender re-creates it at the same id, or a ledger carries the floor (open()).
  if (!floor_segment_.empty() && end >= floor_segment_id_) {
    fs::remove(floor_segment_, ec);
    floor_segment_.clear();
  }
  if (!read_only && recovery_.removed_segments != 0) (void)sync_directory(config_.dir);
  return status::ok();
}

void spool::add_segment(spool_segment s) {
  std::lock_guard lock(mutex_);
  segments_.push_back(std::move(s));
}

void spool::update_active(std::uint64_t end_id, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (segments_.empty()) return;
  segments_.back().end_id = end_id;
  segments_.back().bytes = bytes;
}

void spool::publish_committed(std::uint64_t end_id) noexcept {
  if (end_id > durable_.load(std::memory_order_relaxed))
    durable_.store(end_id, std::memory_order_release);
  publish_visible(end_id);
}

void spool::publish_visible(std::uint64_t end_id) noexcept {
  if (end_id <= committed_.load(std::memory_order_relaxed)) return;
  committed_.store(end_id, std::memory_order_release);
  commit_waiter_.notify();
}

void spool::finish_writing() noexcept {
  writer_done_.store(true, std::memory_order_release);
  commit_waiter_.wake();
}

void spool::confirm(std::size_t sink, std::uint64_t end_id) noexcept {
  auto& w = sinks_[sink]->watermark;
  if (end_id <= w.load(std::memory_order_relaxed)) return;
  w.store(end_id, std::memory_order_release);
  confirms_.fetch_add(1, std::memory_order_acq_rel);
  space_waiter_.notify();
}

std::uint64_t spool::confirmed_by_all() const noexcept {
  const std::uint64_t dropped = dropped_end();
  std::uint64_t m = committed_end();
  for (const auto& s : sinks_)
    m = std::min(m, std::max(s->watermark.load(std::memory_order_acquire), dropped));
  return m;
}

std::uint64_t spool::min_watermark() const noexcept {
  return std::min(durable_end(), confirmed_by_all());
}

std::uint64_t spool::delete_confirmed_segments(bool including_last) {
  std::vector<std::string> paths;
  const std::uint64_t freed = take_confirmed_segments(paths, including_last);
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec)
      log_line(log_level::error, "spool",
               "cannot delete confirmed segment " + path + ": " + ec.message());
  }
  return freed;
}

std::uint64_t spool::take_confirmed_segments(std::vector<std::string>& paths, bool including_last) {
  const std::uint64_t confirmed = min_watermark();
  std::uint64_t freed = 0;
  std::lock_guard lock(mutex_);
  const std::size_t keep = including_last ? 0 : 1;
  while (segments_.size() > keep && segments_.front().end_id <= confirmed) {
    freed += segments_.front().bytes;
    paths.push_back(std::move(segments_.front().path));
    segments_.pop_front();
    deleted_segments_.fetch_add(1, std::memory_order_relaxed);
  }
  return freed;
}

bool spool::drop_oldest_segment(bool even_last) {
  spool_segment seg;
  std::vector<std::pair<std::string, std::uint64_t>> retry;
  {
    std::lock_guard lock(mutex_);
    retry.swap(undeleted_);
  }
  std::vector<std::pair<std::string, std::uint64_t>> still;
  for (auto& [path, bytes] : retry) {
    std::error_code ec;
    if (!fs::remove(path, ec) && ec) still.emplace_back(std::move(path), bytes);
  }
  {
    std::lock_guard lock(mutex_);
    for (auto& u : still) undeleted_.push_back(std::move(u));
    if (segments_.size() <= (even_last ? 0u : 1u)) return false;
    seg = std::move(segments_.front());
    segments_.pop_front();
  }
  std::string lost;
  for (const auto& s : sinks_) {
    const std::uint64_t w = std::max(s->watermark.load(std::memory_order_acquire), dropped_end());
    const std::uint64_t n = w < seg.end_id ? seg.end_id - std::max(w, seg.first_id) : 0;
    s->dropped.fetch_add(n, std::memory_order_relaxed);
    lost += (lost.empty() ? "" : ", ") + s->name + " " + std::to_string(n);
  }
  dropped_end_.store(std::max(dropped_end(), seg.end_id), std::memory_order_release);
  std::error_code ec;
  if (!fs::remove(seg.path, ec) && ec) {
    // The records are gone for the sinks, but the bytes are still on disk: they stay counted
    // against max_bytes until a later drop manages to delete the file.
    log_line(log_level::error, "spool",
             "cannot delete dropped segment " + seg.path + ": " + ec.message() + " (errno " +
                 std::to_string(ec.value()) + "); its " + std::to_string(seg.bytes) +
                 " bytes still count against max_bytes");
    std::lock_guard lock(mutex_);
    undeleted_.emplace_back(seg.path, seg.bytes);
  }
  dropped_segments_.fetch_add(1, std::memory_order_relaxed);
  log_line(log_level::error, "spool",
           "spool full (max_bytes " + std::to_string(config_.max_bytes) +
               ", on_full = drop_oldest): dropped segment " + seg.path + " (records " +
               std::to_string(seg.first_id) + ".." + std::to_string(seg.end_id) +
               "); records not yet confirmed, per sink: " + lost);
  commit_waiter_.wake();  // readers positioned in the dropped segment move on
  return true;
}

void spool::hold_visible(std::uint64_t end_id) noexcept {
  if (end_id < visible_cap_.load(std::memory_order_relaxed))
    visible_cap_.store(end_id, std::memory_order_seq_cst);
}

void spool::release_visible() noexcept {
  visible_cap_.store(~std::uint64_t{0}, std::memory_order_seq_cst);
  commit_waiter_.notify();
}

status spool::cut_unpublished(std::uint64_t end_id, std::uint64_t cut_offset) {
  std::vector<std::string> doomed;
  // Before any file changes: readers stop at end_id, and one that sees a file change (a cut,
  // a deleted segment) also sees the new generation and finds its place again by id.
  hold_visible(end_id);
  layout_generation_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::lock_guard lock(mutex_);
    // The segment holding end_id first: when its cut fails nothing has changed.
    for (auto& seg : segments_) {
      if (seg.first_id >= end_id || seg.end_id <= end_id) continue;
      const std::uint64_t at = cut_offset != 0 ? cut_offset : seg.bytes;
      if (::truncate(seg.path.c_str(), static_cast<off_t>(at)) != 0)
        return errno_status("cannot cut the unpublished frames of " + seg.path, errno);
      seg.end_id = end_id;
      seg.bytes = at;
    }
    while (!segments_.empty() && segments_.back().first_id >= end_id) {
      if (segments_.back().first_id != end_id) doomed.push_back(segments_.back().path);
      segments_.pop_back();
    }
  }
  for (const std::string& path : doomed) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  return status::ok();
}

std::uint64_t spool::backlog(std::size_t sink) const {
  const std::uint64_t w = std::max(watermark(sink), dropped_end());
  const std::uint64_t end = committed_end();
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& s : segments_) {
    const std::uint64_t lo = std::max(s.first_id, w), hi = std::min(s.end_id, end);
    if (hi > lo) n += hi - lo;
  }
  return n;
}

std::uint64_t spool::total_bytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& s : segments_) total += s.bytes;
  for (const auto& u : undeleted_) total += u.second;
  return total;
}

std::uint64_t spool::undeleted_bytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& u : undeleted_) total += u.second;
  return total;
}

status spool::persist_ledger(std::size_t sink, std::string_view state) {
  sink_slot& s = *sinks_[sink];
  std::lock_guard write_lock(s.write_mutex);
  {
    std::lock_guard lock(s.pending_mutex);
    s.pending = false;  // this write is newer than any request not yet written
  }
  return write_ledger(s, s.watermark.load(std::memory_order_acquire), state);
}

status spool::persist_ledger_async(std::size_t sink, std::string_view state) {
  sink_slot& s = *sinks_[sink];
  if (state.size() > kMaxLedgerStateBytes)
    return status::error("ledger of sink " + s.name + ": sink state of " +
                         std::to_string(state.size()) + " bytes, the limit is " +
                         std::to_string(kMaxLedgerStateBytes));
  {
    // The watermark is read here, with the state: the two must match (the file sink's length).
    std::lock_guard lock(s.pending_mutex);
    s.pending = true;
    s.pending_watermark = s.watermark.load(std::memory_order_acquire);
    s.pending_state.assign(state);  // within the reserved capacity
  }
  ledger_thread_->request();
  return status::ok();
}

void spool::write_pending_ledgers() {
  std::string state;
  state.reserve(kMaxLedgerStateBytes);
  for (auto& slot : sinks_) {
    sink_slot& s = *slot;
    std::lock_guard write_lock(s.write_mutex);
    std::uint64_t w = 0;
    {
      std::lock_guard lock(s.pending_mutex);
      if (!s.pending) continue;
      s.pending = false;
      w = s.pending_watermark;
      state.assign(s.pending_state);
    }
    if (status st = write_ledger(s, w, state); !st)
      log_line(log_level::error, "sink:" + s.name, st.message());
  }
}

status spool::write_ledger(sink_slot& s, std::uint64_t w, std::string_view state) {
  if (w == s.persisted && state == s.persisted_state) return status::ok();
  if (state.size() > kMaxLedgerStateBytes)
    return status::error("ledger of sink " + s.name + ": sink state of " +
                         std::to_string(state.size()) + " bytes, the limit is " +
                         std::to_string(kMaxLedgerStateBytes));
  // Runs every ledger_interval (ledger thread) and at a sink's checkpoints (sink thread): no
  // heap allocation here (an ofstream's buffer made glibc consolidate the fastbins full of
  // librdkafka's freed message headers).
  char text[512 + kMaxLedgerStateBytes];
  char* p = text;
  char* const end = text + sizeof text;
  auto put = [&](std::string_view part) {
    const std::size_t n = std::min(part.size(), static_cast<std::size_t>(end - p));
    if (n != 0) std::memcpy(p, part.data(), n);  // an empty view's data() may be null
    p += n;
  };
  put("edgepipe spool ledger v1\nsink=");
  put(s.name);
  put("\n");
  put(kLedgerKey);
  p = std::to_chars(p, end, w).ptr;
  put("\n");
  put(state);
  if (p == end) return status::error("ledger text too long for sink " + s.name);
  // Atomic and durable (io/file_ops): a power cut leaves the old or the new ledger, never an
  // empty one, and a watermark once persisted does not go back.
  if (status st = replace_file_durably(*ops_, config_.dir, s.ledger_tmp, s.ledger_path,
                                       std::string_view(text, static_cast<std::size_t>(p - text)));
      !st)
    return st.prefixed("ledger of sink " + s.name + ": ");
  s.persisted = w;
  s.persisted_state.assign(state);  // within the reserved capacity: no allocation
  return status::ok();
}

bool spool::find_segment(std::uint64_t id, spool_segment& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : segments_) {
    if (id < s.end_id || (id >= s.first_id && &s == &segments_.back())) {
      out = s;
      return true;
    }
  }
  return false;
}

bool spool::next_segment_after(std::uint64_t first_id, spool_segment& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : segments_) {
    if (s.first_id > first_id) {
      out = s;
      return true;
    }
  }
  return false;
}

std::vector<spool_segment> spool::segments() const {
  std::lock_guard lock(mutex_);
  return {segments_.begin(), segments_.end()};
}

}  // namespace edgepipe
