#include "stages/spool/spool_stage.hpp"

#include <cerrno>
#include <cstring>

#include "platform/clock.hpp"
#include "platform/log.hpp"

namespace edgepipe {

namespace {
constexpr std::uint64_t kCommitEveryBytes = std::uint64_t{8} << 20;
constexpr auto kRetentionTick = std::chrono::milliseconds(500);
constexpr auto kSyncPoll = std::chrono::milliseconds(1);  // a sync in flight is reaped this often
// How long the spool waits for a following sink to take the tail's oldest batch before leaving
// it behind. Longer than a healthy sink's pause (a file flush, a MongoDB bulk insert of a
// batch), short enough that an outage of one sink holds the others up only once, this long.
constexpr std::uint64_t kFollowerWaitNs = 250'000'000;
// Retries after a disk error: the first after kRetryFirstNs, then twice as long each time up to
// kRetryMaxNs. A full disk (ENOSPC) is also retried as soon as a sink confirms (space may be
// freed), and at least every kRetryFullMaxNs.
constexpr std::uint64_t kRetryFirstNs = 50'000'000;
constexpr std::uint64_t kRetryMaxNs = 5'000'000'000;
constexpr std::uint64_t kRetryFullMaxNs = 1'000'000'000;

/// The appender's messages start with "spool: "; the log line and /health say it already.
std::string without_prefix(const std::string& m) {
  return m.rfind("spool: ", 0) == 0 ? m.substr(7) : m;
}

std::string errno_name(int code) {
  if (code == 0) return "no errno";
  const char* name = strerrordesc_np(code) != nullptr ? strerrorname_np(code) : nullptr;
  return "errno " + std::to_string(code) + (name != nullptr ? std::string(" ") + name : "");
}
}  // namespace

spool_stage::spool_stage(spool& s, std::vector<std::string> sources, std::size_t ring_capacity,
                         batch_pool<record_batch>& pool, stage_counters& counters)
    : spool_(s),
      appender_(s, std::move(sources)),
      input_(ring_capacity),
      pool_(pool),
      counters_(counters),
      tail_(pool, s.config().memory_bytes, s.sink_count()) {
  // Each sink starts at its watermark: it follows the tail from the first batch on.
  for (std::size_t i = 0; i < s.sink_count(); ++i) tail_.expect(i, s.watermark(i));
}

status spool_stage::open() {
  last_sync_ns_ = mono_now_ns();
  // Records recovered from an earlier run: their age is at least this run's (a slot of their own).
  if (spool_.committed_end() != 0 && last_sync_ns_ > append_clock::kSlotNs)
    append_clock_.note(spool_.committed_end(), last_sync_ns_ - append_clock::kSlotNs);
  return appender_.start();
}

void spool_stage::abandon() noexcept {
  abandoned_.store(true, std::memory_order_release);
  spool_.space_waiter().wake();
}

void spool_stage::fail(const status& s) {
  if (failed_) return;  // one episode until recover() succeeds
  failed_ = true;
  error_code_ = s.code();
  disk_errors_.fetch_add(1, std::memory_order_relaxed);
  if (s.code() == ENOSPC) disk_full_errors_.fetch_add(1, std::memory_order_relaxed);
  const std::string what = without_prefix(s.message()) + " (" + errno_name(s.code()) + ")";
  {
    std::lock_guard lock(fault_mutex_);
    fault_ = what;
  }
  faulted_flag_.store(true, std::memory_order_release);
  // What is not durable is appended again by recover(); until then the sinks read no further
  // (after a failed fdatasync those frames may not even read back).
  spool_.hold_visible(spool_.durable_end());
  backoff_ns_ = kRetryFirstNs;
  log_line(log_level::error, "spool",
           what +
               (s.code() == ENOSPC
                    ? (spool_.config().on_full == full_policy::block
                           ? ": disk full (on_full = block): sources wait until space frees"
                           : ": disk full (on_full = drop_oldest): dropping the oldest segments")
                    : ": sources wait while the spool retries") +
               "; no record is released unspooled");
}

std::string spool_stage::fault() const {
  std::lock_guard lock(fault_mutex_);
  return fault_;
}

void spool_stage::backoff_wait(std::uint64_t ns, bool on_confirm) {
  const std::uint64_t gen = spool_.confirm_generation();
  spool_.space_waiter().wait(
      [&] {
        return abandoned_.load(std::memory_order_acquire) ||
               (on_confirm && spool_.confirm_generation() != gen);
      },
      std::chrono::nanoseconds(ns));
}

void spool_stage::release_published() {
  // Held until durable: a failed sync makes the spool append them again (same ids).
  const std::uint64_t committed = spool_.durable_end();
  while (!held_.empty() && held_.front().where.records != 0 &&
         held_.front().where.first_id + held_.front().where.records <= committed) {
    held_bytes_ -= held_.front().batch->bytes();
    if (held_.front().batch->release_reader()) pool_.release(held_.front().batch);
    held_.pop_front();
  }
}

void spool_stage::wait_for_durability() {
  // Never with fsync = off: there every commit (at most every kCommitEveryBytes) is durable.
  sync_waits_.fetch_add(1, std::memory_order_relaxed);
  while (held_bytes_ > kMaxHeldBytes && !failed_ && !abandoned_.load(std::memory_order_acquire)) {
    if (!appender_.sync_in_flight()) {
      if (!appender_.has_uncovered()) break;  // everything is covered by a completed sync
      // The interval is not due yet: the sync that frees the held batches starts now.
      if (status s = appender_.begin_sync(); !s) return fail(s);
      last_sync_ns_ = mono_now_ns();
      unsynced_ = false;
    }
    if (status s = appender_.poll(true); !s) return fail(s);
    release_published();
  }
}

bool spool_stage::recover() {
  const auto& cfg = spool_.config();
  const bool full = error_code_ == ENOSPC;
  backoff_wait(backoff_ns_, full);
  if (abandoned_.load(std::memory_order_acquire)) return false;
  disk_retries_.fetch_add(1, std::memory_order_relaxed);
  // The sinks may have confirmed segments meanwhile: deleted now, not in the background.
  if (full) (void)spool_.delete_confirmed_segments();
  release_published();
  const std::uint64_t committed = spool_.durable_end();
  // Where the first unpublished frame starts (0: it never made it, cut at the segment's end).
  const std::uint64_t cut_offset = !held_.empty() && held_.front().where.records != 0 &&
                                           held_.front().where.first_id == committed
                                       ? held_.front().where.offset
                                       : 0;
  // The memory tail may hold batches at places the cut removes: the sinks read the disk.
  tail_.clear();
  status s = appender_.restart_after_error(cut_offset);
  bool dropped = false;
  if (s && full && cfg.on_full == full_policy::drop_oldest) dropped = spool_.drop_oldest_segment();
  for (auto it = held_.begin(); s && it != held_.end(); ++it) {
    if (status a = appender_.append(*it->batch, &it->where); !a) s = a;
    auto& recs = it->batch->records();
    for (std::size_t i = 0; i < recs.size(); ++i) recs[i].sequence = it->where.first_id + i;
    if (s) notify_appended(*it->batch, it->where.first_id + recs.size());
  }
  if (s) s = appender_.commit(true, true);  // waited for: published once durable
  if (!s) {
    error_code_ = s.code();
    const std::string what = without_prefix(s.message()) + " (" + errno_name(s.code()) + ")";
    {
      std::lock_guard lock(fault_mutex_);
      fault_ = what;
    }
    const std::uint64_t cap = s.code() == ENOSPC ? kRetryFullMaxNs : kRetryMaxNs;
    backoff_ns_ = dropped ? 0 : std::min(backoff_ns_ * 2, cap);
    log_line(log_level::warn, "spool",
             "retry " + std::to_string(disk_retries_.load()) + " failed: " + what + "; next in " +
                 std::to_string(backoff_ns_ / 1'000'000) + " ms");
    return false;
  }
  failed_ = false;
  spool_.release_visible();  // every record held back is written (and durable) again
  faulted_flag_.store(false, std::memory_order_release);
  {
    std::lock_guard lock(fault_mutex_);
    fault_.clear();
  }
  uncommitted_bytes_ = 0;
  unsynced_ = false;
  last_sync_ns_ = mono_now_ns();
  log_line(log_level::info, "spool",
           "writing again after " + std::to_string(disk_retries_.load()) + " retries in all: " +
               std::to_string(held_.size()) + " held batch(es) appended again; sources resume");
  release_published();
  return true;
}

void spool_stage::commit(bool force_sync, bool busy) {
  const auto& cfg = spool_.config();
  const std::uint64_t now = mono_now_ns();
  const bool due = now - last_sync_ns_ >= cfg.fsync_interval_ms * 1'000'000;
  if (force_sync) {
    // Waited for: the caller needs the records published now (disk limit, shutdown).
    if (status s = appender_.commit(true, true); !s) return fail(s);
  } else if (cfg.fsync == fsync_policy::every_batch ||
             (cfg.fsync == fsync_policy::interval && due)) {
    // Group commit in the background: appends go on while the disk flushes. While batches
    // keep coming (interval), only whole write buffers: the one being filled is covered by
    // the next sync, or by the one at the deadline once the input is idle.
    const bool full_buffers_only = busy && cfg.fsync == fsync_policy::interval;
    if (status s = appender_.begin_sync(full_buffers_only); !s) return fail(s);
    if (full_buffers_only && appender_.has_uncovered()) {
      last_sync_ns_ = now;
      unsynced_ = true;
      uncommitted_bytes_ = 0;
      return;
    }
  } else {
    if (status s = appender_.commit(false, cfg.fsync == fsync_policy::off); !s) return fail(s);
    unsynced_ = cfg.fsync == fsync_policy::interval;
    uncommitted_bytes_ = 0;
    return;
  }
  last_sync_ns_ = now;
  unsynced_ = false;
  uncommitted_bytes_ = 0;
}

bool spool_stage::wait_for_followers(std::size_t bytes) {
  std::uint64_t wanted_end = 0;
  if (!tail_.would_evict_wanted(bytes, wanted_end)) return true;
  follower_waits_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t start = mono_now_ns();
  do {
    if (abandoned_.load(std::memory_order_acquire) || failed_) break;
    if (mono_now_ns() - start >= kFollowerWaitNs) {
      left_behind_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    // The sink takes only visible batches: make the one it waits for visible (written where a
    // process crash keeps it), and publish syncs as they complete.
    if (spool_.committed_end() < wanted_end) {
      if (status s = appender_.expose(); !s) {
        fail(s);
        return false;
      }
    }
    if (status s = appender_.poll(false); !s) {
      fail(s);
      return false;
    }
    tail_.wait_for_take(kSyncPoll);
  } while (tail_.would_evict_wanted(bytes, wanted_end));
  follower_wait_ns_.fetch_add(mono_now_ns() - start, std::memory_order_relaxed);
  return !failed_;
}

bool spool_stage::make_room(std::size_t bytes) {
  const auto& cfg = spool_.config();
  bool logged = false;
  for (;;) {
    if (failed_) return false;
    if (spool_.total_bytes() + bytes <= cfg.max_bytes) break;
    if (appender_.delete_confirmed_segments() != 0) continue;
    if (cfg.on_full == full_policy::drop_oldest) {
      if (spool_.drop_oldest_segment()) continue;
      if (!appender_.active_has_frames()) break;  // one batch larger than the limit: let it in
      if (status s = appender_.roll(); !s) {
        fail(s);
        return false;
      }
      continue;
    }
    // block: commit what we have so the sinks can confirm it, then wait for them.
    if (uncommitted_bytes_ != 0 || unsynced_) commit(true);
    if (failed_) {
      blocked_.store(false);
      return false;
    }
    if (!logged) {
      full_waits_.fetch_add(1, std::memory_order_relaxed);
      blocked_.store(true);
      log_line(log_level::warn, "spool",
               "spool full (" + std::to_string(spool_.total_bytes()) + " of max_bytes " +
                   std::to_string(cfg.max_bytes) +
                   ", on_full = block): sources wait until the sinks confirm the backlog");
      logged = true;
    }
    const std::uint64_t gen = spool_.confirm_generation();
    spool_.space_waiter().wait(
        [&] {
          return abandoned_.load(std::memory_order_acquire) || spool_.confirm_generation() != gen;
        },
        std::chrono::milliseconds(200));
    if (abandoned_.load(std::memory_order_acquire)) {
      blocked_.store(false);
      return false;
    }
  }
  if (logged) {
    blocked_.store(false);
    log_line(log_level::info, "spool", "spool has room again: sources resume");
  }
  return true;
}

void spool_stage::run() {
  const auto& cfg = spool_.config();
  for (;;) {
    if (failed_) {
      // A disk error: no batch is taken until the retry succeeds (the rings fill, the sources
      // wait), and none is released unspooled.
      if (abandoned_.load(std::memory_order_acquire)) break;
      (void)recover();
      continue;
    }
    // The batches kept for a retry (appended, not durable yet) are bounded: a disk whose syncs
    // lag far behind the appends holds the input back here, as a full disk does.
    if (held_bytes_ > kMaxHeldBytes && cfg.fsync != fsync_policy::off &&
        !abandoned_.load(std::memory_order_acquire)) {
      wait_for_durability();
      if (failed_) continue;
    }
    std::chrono::nanoseconds timeout = kRetentionTick;
    bool sync_due_at_timeout = false;  // the wait ends at the fsync interval's deadline
    if (unsynced_) {
      const std::uint64_t due = last_sync_ns_ + cfg.fsync_interval_ms * 1'000'000;
      const std::uint64_t now = mono_now_ns();
      timeout = std::chrono::nanoseconds(due > now ? due - now : 0);
      sync_due_at_timeout = true;
    }
    if (appender_.sync_in_flight()) {
      // Never block on the disk while batches may arrive (a spool thread blocked in the wait
      // let the transform's ring fill): reap the sync if it is done, else look again within
      // kSyncPoll, or as soon as a batch arrives.
      if (status s = appender_.poll(false); !s) fail(s);
      if (appender_.sync_in_flight() && timeout > kSyncPoll) {
        timeout = kSyncPoll;
        sync_due_at_timeout = false;
      }
    }
    if (expose_due_ns_ != 0) {
      const std::uint64_t now = mono_now_ns();
      const std::chrono::nanoseconds left(expose_due_ns_ > now ? expose_due_ns_ - now : 0);
      if (left < timeout) {
        timeout = left;
        sync_due_at_timeout = false;
      }
    }
    record_batch* batch = nullptr;
    spool_frame_position where;
    bool full = false;  // the transform handed it on because it was full
    bool timed_out = false;
    const bool got = input_.pop(batch, timeout, &timed_out);
    if (!got && !timed_out) break;  // the transform closed its output and it is drained
    if (got) {
      const std::size_t n = batch->records().size();
      full = n >= full_batch_records_ || batch->bytes() >= full_batch_bytes_;
      counters_.batches_in.add();
      counters_.records_in.add(n);
      counters_.bytes_in.add(batch->bytes());
      const std::size_t size = spool_appender::frame_bytes(*batch);
      // The wait for followers comes before the append: a sync published while waiting must
      // not make this frame visible before it is in the tail (the sinks would read it back).
      if (n == 0) {
        // nothing to spool
      } else if (abandoned_.load(std::memory_order_acquire) ||
                 ((!make_room(size) || !wait_for_followers(batch->bytes())) && !failed_)) {
        not_spooled_.fetch_add(n, std::memory_order_relaxed);  // the shutdown deadline
        counters_.failed.add(n);
      } else if (failed_) {
        hold(batch, {});  // appended once the spool writes again
        batch = nullptr;
      } else if (status s = appender_.append(*batch, &where); !s) {
        fail(s);
        hold(batch, {});
        batch = nullptr;
      } else {
        counters_.records_out.add(n);
        counters_.bytes_out.add(size);
        uncommitted_bytes_ += size;
        // From here on a record's sequence is its spool id, as in a frame read back.
        auto& recs = batch->records();
        for (std::size_t i = 0; i < recs.size(); ++i) recs[i].sequence = where.first_id + i;
        batch->add_reader();  // held until published: a disk error appends it again
        hold(batch, where);
        tail_.put(batch, where);  // the sinks take it from memory once it is committed
        append_clock_.note(where.first_id + n, mono_now_ns());
        notify_appended(*batch, where.first_id + n);
        batch = nullptr;
      }
      if (batch != nullptr && batch->release_reader()) pool_.release(batch);
    }
    if (failed_) continue;
    // The input is idle: what was appended becomes visible to the sinks now, not at the group
    // commit (docs/durability.md). Unless the batch was full: the transform is busy and the next
    // one follows within a batch's time, so exposing would copy into the page cache what the
    // full buffer writes again soon after (at full speed, most of what the spool writes). That
    // exposure waits up to kExposeDeferNs for the next batch, which takes it over.
    if (got) expose_due_ns_ = 0;
    bool expose_now = !got && expose_due_ns_ != 0 && mono_now_ns() >= expose_due_ns_;
    if (got && input_.empty()) {
      if (full)
        expose_due_ns_ = mono_now_ns() + kExposeDeferNs;
      else
        expose_now = true;
    }
    if (expose_now) {
      expose_due_ns_ = 0;
      if (status s = appender_.expose(); !s) {
        fail(s);
        continue;
      }
    }
    if (uncommitted_bytes_ != 0 && (input_.empty() || uncommitted_bytes_ >= kCommitEveryBytes))
      commit(false, /*busy=*/true);
    else if (unsynced_ && timed_out && sync_due_at_timeout)
      // In the background too: a waited sync here (the input was idle until the deadline)
      // would hold the spool thread while batches arrive again, fill the transform's ring and
      // put it to sleep.
      commit(false);
    (void)appender_.delete_confirmed_segments();
    tail_.evict_done(spool_.min_watermark());
    release_published();
    if (got) {
      last_batch_ns_ = mono_now_ns();
      buffers_trimmed_ = false;
    } else if (idle_trim_ns_ != 0 && !buffers_trimmed_ && !unsynced_ &&
               mono_now_ns() - last_batch_ns_ >= idle_trim_ns_) {
      (void)appender_.trim_buffers();  // idle: the next batch allocates what it needs
      buffers_trimmed_ = true;
    }
  }
  // End of input: make everything durable (even with fsync = off: a clean stop costs one sync).
  // A disk error is retried until it clears or the shutdown deadline abandons the spool.
  for (;;) {
    while (failed_ && !abandoned_.load(std::memory_order_acquire)) (void)recover();
    if (failed_) break;
    if (status s = appender_.close(true); !s) {
      fail(s);
      continue;
    }
    break;
  }
  release_published();
  if (failed_) {
    // Abandoned while the disk failed: these were never written durably.
    for (const held_batch& h : held_) {
      const std::size_t n = h.batch->records().size();
      not_spooled_.fetch_add(n, std::memory_order_relaxed);
      counters_.failed.add(n);
    }
  }
  for (const held_batch& h : held_)
    if (h.batch->release_reader()) pool_.release(h.batch);
  held_.clear();
  held_bytes_ = 0;
  spool_.finish_writing();
  if (not_spooled_.load() != 0)
    log_line(log_level::error, "spool",
             std::to_string(not_spooled_.load()) +
                 " record(s) could not be spooled (shutdown deadline or disk error); they were "
                 "never received");
}

}  // namespace edgepipe
