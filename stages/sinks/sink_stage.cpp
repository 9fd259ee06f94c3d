#include "stages/sinks/sink_stage.hpp"

#include <algorithm>
#include <cstdio>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "platform/thread.hpp"
#include "stages/spool/spool_appender.hpp"
#include "stages/spool/spool_cursor.hpp"

namespace edgepipe {

namespace {
constexpr std::size_t kMaxFramesInFlight = 1024;
constexpr auto kAnswerPoll = std::chrono::milliseconds(5);
constexpr auto kIdleWait = std::chrono::milliseconds(1000);
// Steady input (frames every <= kSteadyGapMaxNs): before sleeping, the sink thread polls for the
// next frame for about 1.5 inter-arrival times (at most kSteadySpinMaxNs), yielding the core
// between polls, instead of paying a futex wake-up (p50 ~14 us on this VM) per frame. Idle
// input (no frame for two gaps) sleeps at once: no CPU when idle. Not when the process runs on
// one CPU ([pipeline] cpus = "0", taskset): there a wake-up is a context switch on that CPU, and
// polling took the whole CPU for no gain (benchmarks/README.md, 2026-12-07 afternoon).
constexpr std::uint64_t kSteadyGapMaxNs = 250'000;
constexpr std::uint64_t kSteadySpinMaxNs = 300'000;
}  // namespace

sink_stage::sink_stage(std::unique_ptr<sink> s, std::size_t ring_capacity,
                       batch_pool<record_batch>& pool, stage_counters& counters,
                       std::chrono::milliseconds flush_interval)
    : sink_(std::move(s)),
      input_(ring_capacity),
      pool_(pool),
      counters_(counters),
      flush_interval_(flush_interval),
      steady_polling_(allowed_cpus().size() >= 2) {  // on the main thread: the process's CPUs
  sink_->set_batch_keeper(this);
}

void sink_stage::use_spool(spool& s, std::size_t index, std::vector<std::string> sources,
                           spool_memory_tail* tail) {
  spool_ = &s;
  tail_ = tail;
  spool_index_ = index;
  sources_ = std::move(sources);
  // With the spool the tracker also records payload received -> the sink confirmed.
  tracker_ = std::make_unique<delivery_tracker>(s.watermark(index), &counters_.confirm_latency_ns);
  sink_->set_listener(this);
  sink_->set_wake(&sink_stage::on_sink_wake, this);
}

void sink_stage::on_sink_wake(void* self) noexcept {
  auto* stage = static_cast<sink_stage*>(self);
  stage->answers_.store(true, std::memory_order_release);
  stage->spool_->commit_waiter().notify();
}

const record_batch* sink_stage::keep(const record_batch& batch) {
  if (&batch != keepable_) return nullptr;  // read back from disk into a reused buffer
  keepable_->add_reader();
  return keepable_;
}

void sink_stage::drop(const record_batch* kept) {
  // keep() handed out a pointer to a batch that is ours to release.
  auto* b = const_cast<record_batch*>(kept);
  if (tail_ != nullptr)
    tail_->release(b);
  else if (b->release_reader())
    pool_.release(b);
}

void sink_stage::abandon() noexcept {
  abandoned_.store(true, std::memory_order_release);
  sink_->request_abandon();
  if (spool_ != nullptr) spool_->commit_waiter().wake();
}

std::uint64_t sink_stage::backlog() const noexcept {
  if (spool_ == nullptr) return 0;
  return spool_->backlog(spool_index_);
}

void sink_stage::settled(std::uint64_t sequence, delivery_outcome outcome) {
  tracker_->settle(sequence, outcome);
}

void sink_stage::settled_range(std::uint64_t first, std::uint64_t count, delivery_outcome outcome) {
  tracker_->settle_range(first, count, outcome);
}

status sink_stage::persist_ledger() {
  spool_->confirm(spool_index_, tracker_->confirmed_end());
  return spool_->persist_ledger(spool_index_, sink_->ledger_state());
}

status sink_stage::checkpoint() {
  if (spool_ == nullptr) return status::ok();
  return persist_ledger();
}

std::uint64_t sink_stage::oldest_ingest(const record_batch& batch) noexcept {
  std::uint64_t oldest = 0;
  for (const record& r : batch.records())
    if (r.ingest_mono_ns != 0 && (oldest == 0 || r.ingest_mono_ns < oldest))
      oldest = r.ingest_mono_ns;
  return oldest;
}

void sink_stage::record_latency(const record_batch& batch) {
  // Latency: payload received -> record handed to the sink, one clock read per batch.
  const std::uint64_t now = mono_now_ns();
  for (const record& r : batch.records())
    counters_.latency_ns.record(now > r.ingest_mono_ns ? now - r.ingest_mono_ns : 0);
}

void sink_stage::mark_ready() noexcept {
  ready_.store(true, std::memory_order_release);
  ready_waiter_.notify();
}

bool sink_stage::wait_ready(std::chrono::nanoseconds timeout) {
  return ready_waiter_.wait([&] { return ready_.load(std::memory_order_acquire); }, timeout);
}

void sink_stage::run() {
  if (spool_ != nullptr) {
    run_from_spool();  // ready once the sink has resumed and prepared
  } else {
    mark_ready();
    run_from_ring();
  }
}

void sink_stage::run_from_ring() {
  const auto interval_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(flush_interval_).count());
  std::uint64_t last_flush = mono_now_ns();
  bool dirty = false;
  for (;;) {
    record_batch* batch = nullptr;
    bool timed_out = false;
    // Block without a timeout when there is nothing to flush: an idle sink costs no CPU.
    const bool got = input_.pop(batch, dirty ? flush_interval_ : waiter::kForever, &timed_out);
    if (!got && !timed_out) break;  // closed and drained
    if (got) {
      counters_.batches_in.add();
      counters_.records_in.add(batch->records().size());
      counters_.bytes_in.add(batch->bytes());
      keepable_ = batch;
      sink_->write(*batch, counters_);
      keepable_ = nullptr;
      record_latency(*batch);
      if (batch->release_reader()) pool_.release(batch);
      dirty = true;
    }
    const std::uint64_t now = mono_now_ns();
    if (dirty && (input_.empty() || now - last_flush >= interval_ns)) {
      sink_->flush(counters_);
      last_flush = now;
      dirty = false;
    }
  }
  sink_->flush(counters_);
  if (status s = sink_->close(); !s)
    log_line(log_level::error, "sink " + sink_->name(), s.message());  // JSON logs stay JSON
}

// Over 100 lines on purpose: one loop whose steps (take answers, confirm, rewind after a
// failure, send from memory or disk, wait) share this thread's cursor, tracker, backoff and flush
// state, and whose order is the protocol with the spool; split up, that state would travel by
// reference through every piece.
void sink_stage::run_from_spool() {
  spool& sp = *spool_;
  const auto& cfg = sp.config();
  const std::string component = "sink:" + sink_->name();
  spool_cursor cursor(sp, sources_);
  delivery_tracker& tracker = *tracker_;
  cursor.seek(sp.watermark(spool_index_));
  record_batch batch;
  // Ids below this were handed to the sink before (in this run or an earlier one, as far as
  // the ledger knows): sending them again is a retry and may duplicate.
  std::uint64_t sent_end = sp.watermark(spool_index_);
  std::uint64_t backoff_ms = cfg.retry_backoff_ms;
  std::uint64_t rewind_at = 0;  // mono ns; 0 = no rewind scheduled
  std::uint64_t confirmed = sp.watermark(spool_index_);
  std::uint64_t last_flush = mono_now_ns();
  std::uint64_t last_ledger = last_flush;
  const auto flush_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(flush_interval_).count());
  bool dirty = false;
  auto persist = [&] {
    if (status s = persist_ledger(); !s) log_line(log_level::error, component, s.message());
  };
  // Every ledger_interval: written by the spool's ledger thread, so that this thread never
  // waits for the ledger's fsyncs while records arrive (the file sink's checkpoints and the
  // last ledger at the end are written here, waited for).
  auto persist_in_background = [&] {
    sp.confirm(spool_index_, tracker.confirmed_end());
    if (status s = sp.persist_ledger_async(spool_index_, sink_->ledger_state()); !s)
      log_line(log_level::error, component, s.message());
  };
  std::uint64_t last_take_ns = 0;
  std::uint64_t gap_ns = 0;  // moving average of the time between frames taken
  sink_->resume(sp.ledger_state(spool_index_));
  sink_->prepare();
  mark_ready();
  while (!abandoned_.load(std::memory_order_acquire)) {
    const std::uint64_t now = mono_now_ns();
    if (dirty && (now - last_flush >= flush_ns || tracker.frames() >= kMaxFramesInFlight)) {
      sink_->flush(counters_);
      last_flush = now;
      dirty = tracker.unanswered() != 0;
    }
    if (const std::uint64_t c = tracker.confirmed_end(); c != confirmed) {
      confirmed = c;
      sp.confirm(spool_index_, c);
      backoff_ms = cfg.retry_backoff_ms;  // progress: the destination is back
    }
    if (now - last_ledger >= cfg.ledger_interval_ms * 1'000'000) {
      persist_in_background();
      last_ledger = now;
    }
    counters_.in_flight.set(tracker.unanswered());

    if (tracker.failure_pending()) {
      if (tracker.unanswered() != 0) {  // wait for every answer before going back
        sink_->flush(counters_);
        sp.commit_waiter().wait(
            [&] {
              return abandoned_.load(std::memory_order_acquire) ||
                     answers_.exchange(false, std::memory_order_acq_rel);
            },
            kAnswerPoll);
        continue;
      }
      if (rewind_at == 0) {
        rewind_at = now + backoff_ms * 1'000'000;
        log_line(log_level::warn, component,
                 std::to_string(tracker.failures()) +
                     " record(s) failed so far; sending again from record " +
                     std::to_string(tracker.confirmed_end()) + " in " + std::to_string(backoff_ms) +
                     " ms");
      }
      if (now < rewind_at) {
        sp.commit_waiter().wait(
            [&] { return abandoned_.load(std::memory_order_acquire); },
            std::chrono::nanoseconds(std::min<std::uint64_t>(rewind_at - now, 100'000'000)));
        continue;
      }
      const spool_frame_position from = tracker.rewind();
      cursor.seek(from);
      rewinds_.fetch_add(1, std::memory_order_relaxed);
      rewind_at = 0;
      backoff_ms = std::min(backoff_ms * 2, cfg.retry_backoff_max_ms);
      continue;
    }

    bool stuck = false;  // committed records the cursor cannot read yet (see its log)
    if (tracker.frames() < kMaxFramesInFlight) {
      spool_frame_position pos;
      const std::uint64_t committed = sp.committed_end();
      auto hand_over = [&](const record_batch& b) {
        const std::uint64_t end = pos.first_id + pos.records;
        if (pos.first_id < sent_end) counters_.retries.add(std::min(end, sent_end) - pos.first_id);
        sent_end = std::max(sent_end, end);
        tracker.sent(pos, oldest_ingest(b));
        const std::uint64_t taken_at = mono_now_ns();
        if (last_take_ns != 0) gap_ns = (gap_ns * 7 + (taken_at - last_take_ns)) / 8;
        last_take_ns = taken_at;
        counters_.batches_in.add();
        counters_.records_in.add(b.records().size());
        counters_.bytes_in.add(b.bytes());
        sink_->write(b, counters_);
        record_latency(b);
        dirty = true;
      };
      // The frame is still in memory (the common case when the sink keeps up): no disk read.
      if (tail_ != nullptr && cursor.position() < committed &&
          cursor.position() >= sp.dropped_end()) {
        if (record_batch* mem = tail_->acquire(spool_index_, cursor.position(), committed, pos)) {
          cursor.step_over(pos, spool_appender::frame_bytes(*mem));
          memory_records_.fetch_add(pos.records, std::memory_order_relaxed);
          keepable_ = mem;
          hand_over(*mem);
          keepable_ = nullptr;
          tail_->release(mem);
          continue;
        }
      }
      skip_reason why = skip_reason::none;
      const auto r = cursor.next(committed, batch, pos, why);
      if (r == spool_cursor::result::frame) {
        hand_over(batch);
        continue;
      }
      if (r == spool_cursor::result::skipped) {
        tracker.skipped(pos.first_id, pos.records);
        if (why == skip_reason::unused) continue;  // never given: nothing was lost
        skipped_.fetch_add(pos.records, std::memory_order_relaxed);
        if (why != skip_reason::dropped)
          log_line(log_level::warn, component,
                   "records " + std::to_string(pos.first_id) + ".." +
                       std::to_string(pos.first_id + pos.records) + " are not in the spool (" +
                       (why == skip_reason::corrupt ? "corrupt frame" : "gap") + "): skipped");
        continue;
      }
      // Judged against `committed`, not a fresh committed_end(): a frame committed meanwhile
      // made a caught-up cursor look stuck, and it slept kAnswerPoll x 10 (the 50 ms latency
      // spikes of benchmarks/README.md).
      stuck = cursor_stuck(cursor.position(), committed, sp.committed_end());
    }
    // Nothing to send now.
    if (dirty) {
      sink_->flush(counters_);
      last_flush = mono_now_ns();
      dirty = tracker.unanswered() != 0;
      if (tracker.confirmed_end() != confirmed) continue;
    }
    if (sp.writing_finished() && cursor.position() >= sp.committed_end() && tracker.empty()) break;
    const std::uint64_t seen = cursor.position();
    // Full (wait for answers, not data) or stuck (retry the read a little later).
    const bool full = tracker.frames() >= kMaxFramesInFlight || stuck;
    const bool answers_due = tracker.unanswered() != 0;
    if (steady_polling_ && !full && gap_ns != 0 && gap_ns <= kSteadyGapMaxNs) {
      const std::uint64_t until = last_take_ns + std::min(gap_ns * 3 / 2, kSteadySpinMaxNs);
      while (mono_now_ns() < until && !abandoned_.load(std::memory_order_acquire) &&
             sp.committed_end() <= seen && sp.dropped_end() <= seen && !sp.writing_finished() &&
             !(answers_due && answers_.load(std::memory_order_acquire))) {
        for (int i = 0; i < 32; ++i) detail::cpu_relax();
        detail::thread_yield();
      }
    }
    sp.commit_waiter().wait(
        [&] {
          if (abandoned_.load(std::memory_order_acquire)) return true;
          // The sink has answers to collect (e.g. Kafka delivery reports): flush now.
          if (answers_due && answers_.exchange(false, std::memory_order_acq_rel)) return true;
          if (full) return false;
          return sp.committed_end() > seen || sp.dropped_end() > seen ||
                 (!answers_due && sp.writing_finished());
        },
        answers_due || stuck ? std::chrono::nanoseconds(kAnswerPoll * (stuck ? 10 : 1))
                             : std::chrono::nanoseconds(kIdleWait));
  }
  sink_->flush(counters_);
  if (status s = sink_->close(); !s) log_line(log_level::error, component, s.message());
  sp.confirm(spool_index_, tracker.confirmed_end());
  persist();
  counters_.in_flight.set(0);
}

}  // namespace edgepipe
