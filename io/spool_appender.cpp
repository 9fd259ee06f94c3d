#include "io/spool_appender.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "io/spool_format.hpp"
#include "platform/clock.hpp"

namespace edgepipe {

namespace fs = std::filesystem;

namespace {
status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return status::error(errno_message("cannot open directory " + dir, errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? status::ok() : status::error(errno_message("fsync " + dir, err));
}
}  // namespace

spool_appender::~spool_appender() { (void)writer_.close(); }

std::size_t spool_appender::frame_bytes(const record_batch& batch) noexcept {
  return spool_format::kFrameHeaderBytes +
         batch.records().size() * spool_format::kRecordEntryBytes + batch.arena().size();
}

status spool_appender::start() {
  next_id_ = written_end_ = spool_.next_record_id();
  return open_segment();
}

status spool_appender::open_segment() {
  active_first_id_ = next_id_;
  spool_segment seg;
  seg.first_id = seg.end_id = next_id_;
  seg.path = (fs::path(spool_.config().dir) / spool_format::segment_file_name(next_id_)).string();
  seg.sources = sources_;
  uring_file_writer_options o;
  o.truncate = true;
  if (status s = writer_.open(seg.path, o); !s) return status::error("spool: " + s.message());
  spool_format::segment_header h;
  h.first_record_id = next_id_;
  h.created_unix_ns = unix_now_ns();
  h.sources = sources_;
  prefix_.clear();
  spool_format::encode_segment_header(h, prefix_);
  writer_.write(prefix_.view(0, prefix_.size()));
  if (status s = writer_.sync(); !s) return status::error("spool: " + s.message());
  if (status s = sync_directory(spool_.config().dir); !s)
    return status::error("spool: " + s.message());
  seg.bytes = writer_.bytes_written();
  spool_.add_segment(std::move(seg));
  return status::ok();
}

status spool_appender::append(const record_batch& batch) {
  if (batch.records().empty()) return status::ok();
  const std::size_t size = frame_bytes(batch);
  if (active_has_frames() && active_bytes() + size > spool_.config().segment_bytes) {
    if (status s = roll(); !s) return s;
  }
  prefix_.clear();
  spool_format::encode_frame_prefix(batch, next_id_, prefix_);
  writer_.write(prefix_.view(0, prefix_.size()));
  if (!writer_.write(batch.arena().view(0, batch.arena().size())))
    return status::error("spool: " + writer_.error());
  next_id_ += batch.records().size();
  appended_records_ += batch.records().size();
  appended_bytes_ += size;
  spool_.update_active(next_id_, writer_.bytes_written());
  return status::ok();
}

status spool_appender::commit(bool sync, bool publish_unsynced) {
  if (sync) {
    const std::uint64_t t0 = mono_now_ns();
    if (status s = writer_.sync(); !s) return status::error("spool: " + s.message());
    fsync_ns_.record(mono_now_ns() - t0);
    ++fsyncs_;
    written_end_ = next_id_;
    spool_.publish_committed(next_id_);
    return status::ok();
  }
  if (status s = writer_.flush(); !s) return status::error("spool: " + s.message());
  written_end_ = next_id_;
  if (publish_unsynced) spool_.publish_committed(next_id_);
  return status::ok();
}

status spool_appender::roll() {
  if (status s = commit(true, true); !s) return s;
  if (status s = writer_.close(); !s) return status::error("spool: " + s.message());
  return open_segment();
}

status spool_appender::close(bool sync) {
  if (!writer_.is_open()) return status::ok();
  status s = commit(sync, true);
  status c = writer_.close();
  if (!s) return s;
  return c ? status::ok() : status::error("spool: " + c.message());
}

}  // namespace edgepipe
