#include "stages/spool/spool_appender.hpp"

#include <algorithm>
#include <filesystem>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/spool/spool_format.hpp"

namespace edgepipe {

namespace fs = std::filesystem;

spool_appender::~spool_appender() {
  for (uring_file_writer& w : writers_) (void)w.close();
  // A run that gave no id (a start that failed later): its lease goes back, no gap is left.
  if (started_ && next_id_ == run_first_id_ && spool_.id_lease().leased_end() > next_id_)
    (void)spool_.id_lease().grant(next_id_);
}

std::size_t spool_appender::frame_bytes(const record_batch& batch) noexcept {
  return spool_format::kFrameHeaderBytes +
         batch.records().size() * spool_format::kRecordEntryBytes + batch.arena().size();
}

std::uint64_t spool_appender::delete_confirmed_segments() {
  doomed_.clear();
  const std::uint64_t freed = spool_.take_confirmed_segments(doomed_);
  for (std::string& path : doomed_) janitor_.unlink(std::move(path));
  return freed;
}

bool spool_appender::publish_held() const noexcept {
  return retiring_ != nullptr ||
         (janitor_.directory_sync_pending() && spool_.config().fsync != fsync_policy::off);
}

status spool_appender::start() {
  if (status s = janitor_.open(spool_.config().dir); !s) return s.prefixed("spool: ");
  next_id_ = covered_end_ = run_first_id_ = spool_.next_record_id();
  // Leased now, before the sources start: the lease's durable write (a few ms, more on a busy
  // disk) must not hold up the first batches.
  if (status s = spool_.id_lease().ensure(next_id_ + 1); !s) return s;
  started_ = true;
  return open_segment();
}

void spool_appender::cover_everything() {
  covered_end_ = next_id_;
  frame_ends_.clear();
}

status spool_appender::open_segment() {
  active_first_id_ = next_id_;
  cover_everything();
  visible_ends_.clear();  // the old segment was synced (or fsync = off): offsets start again
  spool_segment seg;
  seg.first_id = seg.end_id = next_id_;
  seg.path = (fs::path(spool_.config().dir) / spool_format::segment_file_name(next_id_)).string();
  seg.sources = sources_;
  uring_file_writer_options o;
  // Several 1 MiB buffers in flight or filling: a slow fdatasync on a virtual disk (several ms)
  // does not fill them and stall the transform behind the spool.
  o.buffer_bytes = kWriteBufferBytes;
  o.buffers = static_cast<unsigned>(
      std::max<std::uint64_t>(2, spool_.config().write_buffer_bytes / kWriteBufferBytes));
  o.truncate = true;
  o.direct = spool_.config().direct_io;
  if (status s = writer_->open(seg.path, o); !s) return s.prefixed("spool: ");
  if (o.direct && !writer_->direct() && !direct_fallback_logged_) {
    direct_fallback_logged_ = true;
    log_line(log_level::warn, "spool",
             "the file system of " + spool_.config().dir +
                 " does not take O_DIRECT: segments are written through the page cache");
  }
  spool_format::segment_header h;
  h.first_record_id = next_id_;
  h.created_unix_ns = unix_now_ns();
  h.sources = sources_;
  prefix_.clear();
  spool_format::encode_segment_header(h, prefix_);
  writer_->write(prefix_.view(0, prefix_.size()));
  // The header goes to the disk with the first frames and the file's directory entry is synced
  // in the background: none of this segment's records is published before both are durable
  // (the first sync covers the header; publish_held() waits for the directory), so a crash
  // leaves at most a last segment with unpublished records, which recovery removes when its
  // header does not read back. Waiting for both here would stall the spool thread at each roll.
  janitor_.sync_directory();
  seg.bytes = writer_->bytes_written();
  spool_.add_segment(std::move(seg));
  return status::ok();
}

status spool_appender::append(const record_batch& batch, spool_frame_position* where) {
  if (batch.records().empty()) return status::ok();
  const std::size_t size = frame_bytes(batch);
  // The sinks may see these ids before they are synced: leased first (spool_id_lease).
  if (status s = spool_.id_lease().ensure(next_id_ + batch.records().size()); !s) return s;
  if (active_has_frames() && active_bytes() + size > spool_.config().segment_bytes) {
    if (status s = roll(); !s) return s;
  }
  if (where) {
    where->segment_first_id = active_first_id_;
    where->offset = writer_->bytes_written();
    where->first_id = next_id_;
    where->records = static_cast<std::uint32_t>(batch.records().size());
  }
  prefix_.clear();
  spool_format::encode_frame_prefix(batch, next_id_, prefix_);
  writer_->write(prefix_.view(0, prefix_.size()));
  if (!writer_->write(batch.arena().view(0, batch.arena().size())))
    return status::error("spool: " + writer_->error(), writer_->error_code());
  next_id_ += batch.records().size();
  frame_ends_.emplace_back(writer_->bytes_written(), next_id_);
  visible_ends_.emplace_back(writer_->bytes_written(), next_id_);
  add_relaxed(appended_records_, batch.records().size());
  add_relaxed(appended_bytes_, size);
  spool_.update_active(next_id_, writer_->bytes_written());
  return status::ok();
}

status spool_appender::begin_sync(bool full_buffers_only) {
  if (sync_pending_) {
    // One wanted sync stands for every call meanwhile: it covers everything unless each of
    // them allowed less.
    sync_wanted_full_only_ =
        sync_wanted_ ? sync_wanted_full_only_ && full_buffers_only : full_buffers_only;
    sync_wanted_ = true;
    return status::ok();
  }
  const bool wanted = sync_wanted_;
  sync_wanted_ = false;
  // The last frame that ends within the writes already submitted, if it is not covered yet.
  std::uint64_t full_end = covered_end_;
  if (full_buffers_only) {
    const std::uint64_t submitted = writer_->submitted_bytes();
    for (const auto& [end_offset, end_id] : frame_ends_) {
      if (end_offset > submitted) break;
      full_end = end_id;
    }
  }
  const bool partial = !full_buffers_only || full_end <= covered_end_;
  if (full_buffers_only && partial && wanted) {
    // The sync asked for while the last one was in flight has no whole buffer to cover yet:
    // padding the one being filled would cost the wait this mode avoids. The stage's next due
    // sync covers it (it still has uncovered records).
    return status::ok();
  }
  sync_started_ns_ = mono_now_ns();
  if (status s = writer_->start_sync(partial); !s) return s.prefixed("spool: ");
  sync_end_ = partial ? next_id_ : full_end;
  covered_end_ = sync_end_;
  while (!frame_ends_.empty() && frame_ends_.front().second <= covered_end_)
    frame_ends_.pop_front();
  sync_pending_ = true;
  return status::ok();
}

status spool_appender::poll_retiring(bool wait) {
  while (retiring_ != nullptr) {
    if (status s = retiring_->poll_sync(wait); !s) return s.prefixed("spool: ");
    if (retiring_->sync_in_flight()) return status::ok();
    if (!retiring_final_started_) {
      // The background sync that was in flight at the roll: publish what it covered, then the
      // final one covers the rest of the old segment.
      spool_.publish_committed(retiring_first_end_);
      if (status s = retiring_->start_sync(); !s) return s.prefixed("spool: ");
      retiring_final_started_ = true;
      continue;
    }
    fsync_ns_.record(mono_now_ns() - retiring_started_ns_);
    add_relaxed(fsyncs_, 1);
    // Synced: closing only cuts the direct-I/O padding (readers stop at it anyway).
    if (status s = retiring_->close(false, /*keep_ring=*/true); !s) return s.prefixed("spool: ");
    (void)retiring_->trim();  // its buffers come back at the next roll, as writes need them
    retiring_ = nullptr;
    // A sync of the new segment that completed meanwhile was held back (poll() publishes it
    // next): ids are published in order.
    spool_.publish_committed(retiring_end_);
  }
  return status::ok();
}

void spool_appender::publish_visible() {
  if (retiring_ != nullptr && !retiring_visible_) {
    // Ids are published in order: the old segment's frames first.
    if (retiring_->visible_bytes() < retiring_->bytes_written()) return;
    retiring_visible_ = true;
    spool_.publish_visible(retiring_end_);
  }
  const std::uint64_t visible = writer_->visible_bytes();
  std::uint64_t end = 0;
  while (!visible_ends_.empty() && visible_ends_.front().first <= visible) {
    end = visible_ends_.front().second;
    visible_ends_.pop_front();
  }
  if (end != 0) spool_.publish_visible(end);
}

status spool_appender::expose() {
  if (!writer_->is_open()) return status::ok();
  if (retiring_ != nullptr && !retiring_visible_) {
    if (status s = retiring_->reap_completed(); !s) return s.prefixed("spool: ");
    if (status s = retiring_->expose(); !s) return s.prefixed("spool: ");
  }
  if (status s = writer_->reap_completed(); !s) return s.prefixed("spool: ");
  if (!visible_ends_.empty()) {
    if (status s = writer_->expose(); !s) return s.prefixed("spool: ");
  }
  publish_visible();
  return status::ok();
}

status spool_appender::poll(bool wait) {
  if (status s = janitor_.poll(wait); !s) return s.prefixed("spool: ");
  if (writer_->is_open()) {
    if (retiring_ != nullptr && !retiring_visible_)
      if (status s = retiring_->reap_completed(); !s) return s.prefixed("spool: ");
    if (status s = writer_->reap_completed(); !s) return s.prefixed("spool: ");
    publish_visible();
  }
  if (status s = poll_retiring(wait); !s) return s;
  if (held_end_ != 0 && !publish_held()) {
    spool_.publish_committed(held_end_);
    held_end_ = 0;
  }
  if (!sync_pending_) return status::ok();
  // The writer may already have reaped the completion (while waiting for a write).
  if (status s = writer_->poll_sync(wait); !s) return s.prefixed("spool: ");
  if (writer_->sync_in_flight()) return status::ok();
  sync_pending_ = false;
  fsync_ns_.record(mono_now_ns() - sync_started_ns_);
  add_relaxed(fsyncs_, 1);
  if (publish_held()) {
    held_end_ = sync_end_;  // published once the old segment's last sync and the directory's
  } else {                  // fsync have completed
    spool_.publish_committed(sync_end_);
  }
  if (sync_wanted_ && next_id_ > sync_end_) return begin_sync(sync_wanted_full_only_);
  sync_wanted_ = false;
  return status::ok();
}

status spool_appender::commit(bool sync, bool publish_unsynced) {
  if (sync) {
    // This sync covers what a wanted one would; one in flight completes first, so records are
    // published in order.
    sync_wanted_ = false;
    if (status s = poll(true); !s) return s;
    cover_everything();
    const std::uint64_t t0 = mono_now_ns();
    if (status s = writer_->sync(); !s) return s.prefixed("spool: ");
    fsync_ns_.record(mono_now_ns() - t0);
    add_relaxed(fsyncs_, 1);
    spool_.publish_committed(next_id_);
    return status::ok();
  }
  if (status s = poll(false); !s) return s;
  // Nothing to publish before the next sync (interval): the full buffers are already on their
  // way and the sync will submit the rest; waiting for the disk here would only stall.
  if (!publish_unsynced) return status::ok();
  // fsync = off: durable means written, and the page cache is as good as a completed write
  // (expose(): no padded direct write to wait for).
  if (status s = expose(); !s) return s;
  cover_everything();
  spool_.publish_committed(spool_.committed_end());
  return status::ok();
}

status spool_appender::finish_segment(bool sync) {
  // A background sync in flight completes (and publishes) first: records go out in order.
  sync_wanted_ = false;
  if (status s = poll(true); !s) return s;
  cover_everything();
  const std::uint64_t t0 = mono_now_ns();
  if (status s = writer_->close(sync, /*keep_ring=*/true); !s) return s.prefixed("spool: ");
  if (sync) {
    fsync_ns_.record(mono_now_ns() - t0);
    add_relaxed(fsyncs_, 1);
  }
  spool_.publish_committed(next_id_);
  return status::ok();
}

status spool_appender::roll() {
  // fsync = off never syncs (docs/durability.md): a synchronous fdatasync of the whole old
  // segment here stalled the spool thread (and through the rings the sources) for up to
  // segment_bytes of writeback at each roll. The kernel writes it back; a reader's CRC check
  // catches a segment left short by a power cut.
  if (spool_.config().fsync == fsync_policy::off) {
    if (status s = finish_segment(false); !s) return s;
    return open_segment();
  }
  // The old segment's last writes and the sync that covers them go on in the background while
  // the new segment takes the appends: a waited close here (flush, fdatasync) would hold the
  // spool thread long enough to fill the transform's ring. Its records are
  // published when that sync completes (poll()), before any of the new segment's.
  if (status s = poll_retiring(true); !s) return s;  // the previous roll's: long done, normally
  // The old segment's frames become visible once its writes complete (or now, exposed).
  if (status s = writer_->expose(); !s) return s.prefixed("spool: ");
  publish_visible();
  retiring_visible_ = visible_ends_.empty();
  retiring_ = writer_;
  retiring_end_ = next_id_;
  retiring_started_ns_ = mono_now_ns();
  if (sync_pending_) {
    // Its background sync goes on; the final one starts when it completes.
    retiring_first_end_ = sync_end_;
    retiring_final_started_ = false;
    sync_pending_ = sync_wanted_ = false;
  } else {
    if (status s = retiring_->start_sync(); !s) return s.prefixed("spool: ");
    retiring_final_started_ = true;
  }
  writer_ = retiring_ == &writers_[0] ? &writers_[1] : &writers_[0];
  return open_segment();
}

status spool_appender::restart_after_error(std::uint64_t cut_offset) {
  for (uring_file_writer& w : writers_) (void)w.close(false, /*keep_ring=*/true);
  (void)janitor_.poll(true);
  writer_ = &writers_[0];
  retiring_ = nullptr;
  retiring_visible_ = true;
  retiring_final_started_ = false;
  held_end_ = 0;
  sync_pending_ = sync_wanted_ = false;
  frame_ends_.clear();
  const std::uint64_t committed = spool_.durable_end();
  const std::uint64_t appended_again = next_id_ > committed ? next_id_ - committed : 0;
  appended_records_.store(appended_records() - appended_again, std::memory_order_relaxed);
  next_id_ = covered_end_ = sync_end_ = committed;
  if (status s = spool_.cut_unpublished(committed, cut_offset); !s) return s.prefixed("spool: ");
  return open_segment();
}

std::size_t spool_appender::trim_buffers() {
  std::size_t freed = 0;
  for (uring_file_writer& w : writers_) freed += w.trim();
  return freed;
}

status spool_appender::close(bool sync) {
  if (!writer_->is_open()) return status::ok();
  if (status s = finish_segment(sync); !s) return s;
  // A clean stop: every id given is durable, the next run starts right after them (no gap).
  if (sync) return spool_.id_lease().grant(next_id_);
  return status::ok();
}

}  // namespace edgepipe
