// spool::open and spool::recover: what a start finds in the spool directory (segments, their
// torn tails, the id lease, the sinks' ledgers) made into the spool's state before any thread
// runs. The spool's class and its rules: stages/spool/spool.hpp.
#include "stages/spool/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

status spool::open(const std::vector<std::string>& sink_names, bool read_only) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  if (read_only) {
    if (!fs::is_directory(config_.dir, ec))
      return status::error(
          "spool directory " + config_.dir +
          (fs::exists(config_.dir, ec) ? " is not a directory" : " does not exist"));
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

}  // namespace edgepipe
