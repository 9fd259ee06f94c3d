#include "stages/sinks/file/file_sink.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sinks/file/file_sink_state.hpp"
#include "stages/transform/json_numbers.hpp"
#include "stages/transform/json_text.hpp"

namespace edgepipe {

namespace fs = std::filesystem;

namespace {
/// Inode and size of `path`; false when it does not exist (or cannot be read).
bool stat_file(const std::string& path, std::uint64_t& inode, std::uint64_t& size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  inode = static_cast<std::uint64_t>(st.st_ino);
  size = static_cast<std::uint64_t>(st.st_size);
  return true;
}

/// True when `path` (followed through symlinks and /proc/self/fd links) is a pipe without a
/// name: one end of a shell's `|`, which no process can open for reading once its reader left.
bool is_unnamed_pipe(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == PIPEFS_MAGIC;
}
}  // namespace

file_sink::file_sink(std::string name, file_sink_config config,
                     std::vector<std::string> source_names)
    : name_(std::move(name)), config_(std::move(config)), source_names_(std::move(source_names)) {}

status file_sink::open() {
  const fs::path path(config_.path);
  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return status::error("sink " + name_ + ": cannot create directory " +
                           path.parent_path().string() + ": " + ec.message());
  }
  // A socket cannot be opened as a file: said here, before anything starts. (A pipe is a
  // stream, written in order by the writer; one that no process reads is refused by it.)
  if (fs::is_socket(path, ec))
    return status::error("sink " + name_ + ": " + config_.path +
                         " is a socket, which the file sink cannot write: give a regular file, "
                         "a device or a pipe");
  // Continue numbering after rotated files a previous run left behind.
  while (fs::exists(config_.path + "." + std::to_string(next_rotation_), ec)) ++next_rotation_;
  uring_file_writer_options o;
  o.truncate = false;  // a restarted daemon appends; it never destroys earlier output
  if (status s = writer_.open(config_.path, o); !s)
    return status::error("sink " + name_ + ": " + s.message());
  // Follows a symlink to its target; /dev/stdout redirected to a file is a stream too (the
  // writer uses the process's descriptor: renaming or cutting the path would hit /dev).
  stream_ = !fs::is_regular_file(config_.path, ec) || writer_.stream();
  unnamed_pipe_ = stream_ && is_unnamed_pipe(config_.path);
  reader_gone_text_ =
      config_.path + " is a pipe whose reader closed it (EPIPE): nothing can read it again";
  if (stream_ && config_.rotate_bytes != 0)
    log_line(log_level::info, "sink " + name_,
             config_.path +
                 " is a device, a pipe or one of the process's descriptors: written as a "
                 "stream, not rotated (rotate_bytes ignored) and never cut back");
  adopt_open_file();
  return status::ok();
}

void file_sink::adopt_open_file() {
  good_size_ = writer_.bytes_written();
  std::uint64_t size = 0;
  if (!stat_file(config_.path, inode_, size)) inode_ = 0;
  ledger_due_ = true;
}

bool file_sink::record_file_in_ledger() {
  ledger_due_ = false;
  if (status s = checkpoint(); !s) {
    fail("cannot write the ledger before writing into " + config_.path + ": " + s.message());
    return false;
  }
  return true;
}

void file_sink::prepare() {
  // The ledger the first write would write (same state: nothing was written since resume()).
  // On failure the first write tries again, and fails its records as before.
  if (ledger_due_ && !failed_ && has_listener() && checkpoint()) ledger_due_ = false;
}

std::string_view file_sink::ledger_state() {
  const std::size_t n =
      format_file_sink_state({inode_, good_size_, records_end_}, state_, sizeof state_);
  return {state_, n};
}

void file_sink::resume(std::string_view text) {
  ledger_due_ = true;        // the first write records the file in the ledger (when it changed)
  if (text.empty()) return;  // a first start, or a ledger from before this state existed
  const auto st = parse_file_sink_state(text);
  if (st && stream_) {  // nothing to read back or cut: what the ledger confirmed was written
    records_end_ = st->records_end;
    return;
  }
  if (!st) {
    log_line(log_level::warn, "sink " + name_,
             "the ledger's file state is unreadable: nothing cut from " + config_.path +
                 "; records the ledger had not confirmed may be written again");
    return;
  }
  // The file the ledger names: the one being written, or, after a crash between a rotation and
  // the ledger write that follows it (the new file is still empty), the one just rotated.
  std::uint64_t inode = 0, size = 0;
  std::string target;
  if (stat_file(config_.path, inode, size) && inode == st->inode) {
    target = config_.path;
  } else if (size == 0 && next_rotation_ > 1) {
    const std::string rotated = config_.path + "." + std::to_string(next_rotation_ - 1);
    std::uint64_t rotated_inode = 0, rotated_size = 0;
    if (stat_file(rotated, rotated_inode, rotated_size) && rotated_inode == st->inode) {
      target = rotated;
      size = rotated_size;
    }
  }
  if (target.empty()) {
    log_line(log_level::warn, "sink " + name_,
             "the file the ledger names (inode " + std::to_string(st->inode) + ", " +
                 std::to_string(st->bytes) + " bytes) is neither " + config_.path +
                 " nor its last rotation (moved or deleted?): nothing cut; records below " +
                 std::to_string(st->records_end) + " are taken as written");
    records_end_ = st->records_end;
    return;
  }
  cut_back(target, size, st->bytes, st->records_end);
}

void file_sink::cut_back(const std::string& target, std::uint64_t size, std::uint64_t bytes,
                         std::uint64_t records_end) {
  if (size < bytes) {
    // Confirmed lines are missing (a power cut with fsync = false, or an operator's cut):
    // nothing to skip that is sure to be there, so the spool's records are written again.
    log_line(log_level::warn, "sink " + name_,
             target + " holds " + std::to_string(size) + " bytes, fewer than the " +
                 std::to_string(bytes) +
                 " the ledger confirmed: nothing cut or skipped; records from the watermark on are "
                 "written again");
    return;
  }
  records_end_ = records_end;
  if (size == bytes) return;
  const bool current = target == config_.path;
  if (current) (void)writer_.close();
  std::error_code ec;
  fs::resize_file(target, bytes, ec);
  if (ec) {
    // Records below records_end_ are still skipped; what follows the confirmed length stays.
    log_line(log_level::error, "sink " + name_,
             "cannot cut " + target + " back to " + std::to_string(bytes) +
                 " bytes (what the ledger confirmed): " + ec.message() +
                 "; lines past it may be there twice");
  } else {
    log_line(log_level::info, "sink " + name_,
             "cut " + std::to_string(size - bytes) + " bytes past what the ledger confirmed from " +
                 target + " (" + std::to_string(bytes) + " bytes, records below " +
                 std::to_string(records_end) + "): those records are written again");
  }
  if (current) {
    uring_file_writer_options o;
    o.truncate = false;
    if (status s = writer_.open(config_.path, o); !s) {
      fail(s.message());
      return;
    }
    adopt_open_file();
  }
}

std::string file_sink::fault() const {
  return reader_gone_.load(std::memory_order_acquire) ? reader_gone_text_ : std::string();
}

void file_sink::fail(const std::string& what, int error) {
  // The writer keeps its first error and close() returns it again: logged once, below.
  if (status c = writer_.close(); !c && c.message() != what)
    log_line(log_level::error, "sink " + name_, "close after a failure: " + c.message());
  failed_ = true;
  if (error == EPIPE && unnamed_pipe_) {  // no reader can come back: no reopening
    reader_gone_.store(true, std::memory_order_release);
    log_line(log_level::error, "sink " + name_,
             what + ": " + reader_gone_text_ + "; records not confirmed are counted as failed" +
                 (has_listener() ? " and stay in the spool" : ""));
    return;
  }
  backoff_ms_ = backoff_ms_ == 0 ? 100 : std::min<std::uint64_t>(backoff_ms_ * 2, 30'000);
  retry_at_ns_ = mono_now_ns() + backoff_ms_ * 1'000'000;
  log_line(log_level::error, "sink " + name_,
           what + "; records not confirmed are counted as failed; reopening " + config_.path +
               " in " + std::to_string(backoff_ms_) + " ms");
}

bool file_sink::try_recover() {
  if (!failed_) return true;
  if (reader_gone_.load(std::memory_order_relaxed) || mono_now_ns() < retry_at_ns_) return false;
  // A write that failed midway may have left part of a line: cut the file back to what was
  // confirmed so the records sent again are not preceded by a torn one.
  std::error_code ec;
  const auto size = fs::file_size(config_.path, ec);
  if (!ec && !stream_ && fs::is_regular_file(config_.path, ec) && size > good_size_) {
    fs::resize_file(config_.path, good_size_, ec);
    if (ec) {
      fail("cannot cut " + config_.path + " back to " + std::to_string(good_size_) +
           " bytes: " + ec.message());
      return false;
    }
  }
  uring_file_writer_options o;
  o.truncate = false;
  if (status st = writer_.open(config_.path, o); !st) {
    fail(st.message());
    return false;
  }
  adopt_open_file();
  failed_ = false;
  log_line(log_level::info, "sink " + name_, "reopened " + config_.path + ": writing again");
  return true;
}

void file_sink::append_line(const record_batch& batch, const record& r) {
  if (config_.format == file_format::value) {
    const std::string_view v = batch.value(r);
    if (v.empty()) return;  // a tombstone (postgres_cdc, after a delete): no JSON to write
    // value + '\n' in one call: most records fit the current buffer.
    writer_.write(v);
    writer_.write("\n");
    return;
  }
  line_.clear();
  line_.append("{\"key\":", 7);
  if (r.key_length) {
    append_json_string_lossy(line_, batch.key(r));
  } else {
    line_.append("null", 4);
  }
  line_.append(",\"source\":", 10);
  append_json_string(line_, r.source < source_names_.size()
                                ? std::string_view(source_names_[r.source])
                                : std::string_view("unknown"));
  line_.append(",\"event_time\":", 14);
  append_int(line_, r.event_time_ms);
  line_.append(",\"ingest_time\":", 15);
  append_int(line_, r.ingest_unix_ns / 1'000'000);
  line_.append(",\"sequence\":", 12);
  append_int(line_, static_cast<std::int64_t>(r.sequence));
  line_.append(",\"value\":", 9);
  if (r.value_length != 0) {
    line_.append(batch.value(r));
  } else {
    line_.append("null", 4);  // a tombstone
  }
  line_.append("}\n", 2);
  writer_.write(line_.view(0, line_.size()));
}

void file_sink::write(const record_batch& batch, stage_counters& counters) {
  const auto& records = batch.records();
  if (failed_ && !try_recover()) {
    counters.failed.add(records.size());
    for (const record& r : records) settle(r.sequence, delivery_outcome::failed);
    return;
  }
  const bool spooled = has_listener();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const record& r = records[i];
    if (spooled) {
      if (r.sequence < records_end_) {  // the file holds it already (a resend): not again
        settle(r.sequence, delivery_outcome::duplicate);
        counters.duplicates.add();
        counters.records_out.add();
        continue;
      }
      if (ledger_due_ && !record_file_in_ledger()) {
        counters.failed.add(records.size() - i);
        for (std::size_t k = i; k < records.size(); ++k)
          settle(records[k].sequence, delivery_outcome::failed);
        return;
      }
      pending_end_ = std::max(pending_end_, r.sequence + 1);
    }
    const std::uint64_t before = writer_.bytes_written();
    append_line(batch, r);
    ++pending_;
    if (spooled) {
      if (!pending_ids_.empty() &&
          pending_ids_.back().first + pending_ids_.back().second == r.sequence)
        ++pending_ids_.back().second;
      else
        pending_ids_.emplace_back(r.sequence, 1);
    }
    pending_bytes_ += writer_.bytes_written() - before;
    // Checked per record so a file never exceeds rotate_bytes by more than one line.
    if (!stream_ && config_.rotate_bytes != 0 && writer_.bytes_written() >= config_.rotate_bytes) {
      rotate(counters);
      if (failed_) {  // the rest of the batch has nowhere to go: count it, never drop it silently
        counters.failed.add(records.size() - i - 1);
        for (std::size_t k = i + 1; k < records.size(); ++k)
          settle(records[k].sequence, delivery_outcome::failed);
        return;
      }
    }
  }
}

void file_sink::flush(stage_counters& counters) {
  if (pending_ == 0 || failed_) return;
  status s = config_.fsync ? writer_.sync() : writer_.flush();
  if (!s) {
    counters.failed.add(pending_);
    settle_pending(delivery_outcome::failed);
    fail(s.message(), s.code());
  } else {
    counters.records_out.add(pending_);
    counters.bytes_out.add(pending_bytes_);
    settle_pending(delivery_outcome::delivered);
    good_size_ = writer_.bytes_written();
    records_end_ = std::max(records_end_, pending_end_);
    backoff_ms_ = 0;
  }
  pending_ = 0;
  pending_bytes_ = 0;
  pending_end_ = 0;
}

void file_sink::settle_pending(delivery_outcome outcome) {
  for (const auto& [first, count] : pending_ids_) settle_range(first, count, outcome);
  pending_ids_.clear();
}

void file_sink::rotate(stage_counters& counters) {
  flush(counters);  // everything written so far is confirmed (or failed) before the close
  if (failed_) return;
  // close() cuts, syncs (with fsync) and closes: its error means the file may not hold what
  // was confirmed, so it is logged and the file is not renamed away as if it were complete.
  if (status s = writer_.close(config_.fsync); !s) {
    fail("closing " + config_.path + " for rotation: " + s.message(), s.code());
    return;
  }
  const std::string rotated = config_.path + "." + std::to_string(next_rotation_++);
  std::error_code ec;
  fs::rename(config_.path, rotated, ec);  // atomic: readers see the old or the new name
  if (!ec) good_size_ = 0;                // what was confirmed is in the rotated file now
  if (ec)
    log_line(log_level::error, "sink " + name_,
             "cannot rotate " + config_.path + " to " + rotated + ": " + ec.message() +
                 " (writing on in " + config_.path + ")");
  uring_file_writer_options o;
  o.truncate = false;
  if (status s = writer_.open(config_.path, o); !s) {
    fail(s.message());
    return;
  }
  adopt_open_file();  // the next line written first records the new file in the ledger
}

status file_sink::close() {
  status s = config_.fsync ? writer_.sync() : status::ok();
  status c = writer_.close();
  return s ? c : s;
}

}  // namespace edgepipe
