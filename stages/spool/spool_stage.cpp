#include "stages/spool/spool_stage.hpp"

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
  return appender_.start();
}

void spool_stage::abandon() noexcept {
  abandoned_.store(true, std::memory_order_release);
  spool_.space_waiter().wake();
}

void spool_stage::fail(const status& s) {
  if (!failed_) log_line(log_level::error, "spool", s.message());
  failed_ = true;
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
    // The sink takes only committed batches: make sure a sync (or, fsync = off, a flush)
    // covers the one it waits for, and publish syncs as they complete.
    if (appender_.covered_end() < wanted_end) {
      const bool off = spool_.config().fsync == fsync_policy::off;
      if (status s = off ? appender_.commit(false, true) : appender_.begin_sync(false); !s) {
        fail(s);
        return false;
      }
      if (off) uncommitted_bytes_ = 0;
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
    if (spool_.total_bytes() + bytes <= cfg.max_bytes) break;
    if (appender_.delete_confirmed_segments() != 0) continue;
    if (cfg.on_full == full_policy::drop_oldest) {
      if (spool_.drop_oldest_segment()) continue;
      if (!appender_.active_has_frames()) break;  // one batch larger than the limit: let it in
      if (status s = appender_.roll(); !s) {
        log_line(log_level::error, "spool", s.message());
        break;
      }
      continue;
    }
    // block: commit what we have so the sinks can confirm it, then wait for them.
    if (uncommitted_bytes_ != 0 || unsynced_) commit(true);
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
    record_batch* batch = nullptr;
    spool_frame_position where;
    bool timed_out = false;
    const bool got = input_.pop(batch, timeout, &timed_out);
    if (!got && !timed_out) break;  // the transform closed its output and it is drained
    if (got) {
      const std::size_t n = batch->records().size();
      counters_.batches_in.add();
      counters_.records_in.add(n);
      counters_.bytes_in.add(batch->bytes());
      const std::size_t size = spool_appender::frame_bytes(*batch);
      // The wait for followers comes before the append: a sync published while waiting must
      // not make this frame visible before it is in the tail (the sinks would read it back).
      if (abandoned_.load(std::memory_order_acquire) || failed_ || !make_room(size) ||
          !wait_for_followers(batch->bytes())) {
        not_spooled_.fetch_add(n, std::memory_order_relaxed);
        counters_.failed.add(n);
      } else if (status s = appender_.append(*batch, &where); !s) {
        fail(s);
        not_spooled_.fetch_add(n, std::memory_order_relaxed);
        counters_.failed.add(n);
      } else {
        counters_.records_out.add(n);
        counters_.bytes_out.add(size);
        uncommitted_bytes_ += size;
        // From here on a record's sequence is its spool id, as in a frame read back.
        auto& recs = batch->records();
        for (std::size_t i = 0; i < recs.size(); ++i) recs[i].sequence = where.first_id + i;
        tail_.put(batch, where);  // the sinks take it from memory once it is committed
        batch = nullptr;
      }
      if (batch != nullptr && batch->release_reader()) pool_.release(batch);
    }
    if (uncommitted_bytes_ != 0 && (input_.empty() || uncommitted_bytes_ >= kCommitEveryBytes))
      commit(false, /*busy=*/true);
    else if (unsynced_ && timed_out && sync_due_at_timeout)
      // In the background too: a waited sync here (the input was idle until the deadline) held
      // the spool thread 3-8 ms while batches kept arriving -- 55-100 ms of spool-thread stalls
      // per 2M CoinGecko records, which filled the transform's ring and put it to sleep.
      commit(false);
    (void)appender_.delete_confirmed_segments();
    tail_.evict_done(spool_.min_watermark());
  }
  // End of input: make everything durable (even with fsync = off: a clean stop costs one sync).
  if (status s = appender_.close(true); !s) log_line(log_level::error, "spool", s.message());
  spool_.finish_writing();
  if (not_spooled_.load() != 0)
    log_line(log_level::error, "spool",
             std::to_string(not_spooled_.load()) +
                 " record(s) could not be spooled (shutdown deadline or disk error); they were "
                 "never received");
}

}  // namespace edgepipe
