// The thread around a sink. Two ways to feed it:
//  - from a ring (no spool): pops record batches, hands them to the sink, flushes when the ring
//    is idle or every flush interval, returns batches to the pool (the last of the fan-out
//    readers does), and flushes and closes the sink when the ring is closed and drained;
//  - from the spool: reads visible frames (spool::committed_end: written, maybe not synced yet)
//    with its own cursor, hands them to the sink, keeps
//    the book of answers (stages/sinks/delivery_tracker), moves its watermark over what is
//    confirmed, persists it in its ledger, and after a failure goes back to the first unconfirmed
//    frame with a backoff. It ends when the spool writer has finished and everything is confirmed,
//    or when abandoned (shutdown deadline), leaving the rest in the spool.
// Threading: run() is the body of the sink thread "sink:<name>"; abandon() may be called from
// any thread; the delivery_listener and batch_keeper callbacks run on the sink thread (from
// inside the sink); the sink's wake callback (answers to collect, e.g. Kafka delivery reports)
// may run on any thread: it sets a flag and notifies the thread's waiter.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "stages/sinks/delivery_tracker.hpp"
#include "stages/sinks/sink.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_memory_tail.hpp"

namespace edgepipe {

class sink_stage final : private delivery_listener, private batch_keeper {
 public:
  sink_stage(std::unique_ptr<sink> s, std::size_t ring_capacity, batch_pool<record_batch>& pool,
             stage_counters& counters,
             std::chrono::milliseconds flush_interval = std::chrono::milliseconds(100));
  ring_edge<record_batch*>& input() noexcept { return input_; }
  const ring_edge<record_batch*>& input() const noexcept { return input_; }
  sink& target() noexcept { return *sink_; }
  const sink& target() const noexcept { return *sink_; }
  stage_counters& counters() noexcept { return counters_; }
  const stage_counters& counters() const noexcept { return counters_; }

  /// runs on: main thread, before start. Feeds this sink from the spool (sink `index` there),
  /// taking frames from `tail` (may be null) while they are still in memory.
  void use_spool(spool& s, std::size_t index, std::vector<std::string> sources,
                 spool_memory_tail* tail = nullptr);
  bool spooled() const noexcept { return spool_ != nullptr; }
  /// runs on: sink thread.
  void run();
  /// How long pipeline::start waits for a sink thread to be ready before it starts the sources.
  static constexpr std::chrono::milliseconds kStartWait{500};

  /// Whether a sink's spool cursor is stuck (committed records it cannot read yet, retried after
  /// a longer wait): it read nothing from `position` although the read was limited to
  /// `read_limit`, the committed end when the read began. A frame committed since
  /// (`committed_now` above `read_limit`, the usual case at a paced rate) is read on the next
  /// pass; a visible end held back since (below it: a disk error) is no reason either.
  static constexpr bool cursor_stuck(std::uint64_t position, std::uint64_t read_limit,
                                     std::uint64_t committed_now) noexcept {
    return position < (read_limit < committed_now ? read_limit : committed_now);
  }
  /// runs on: main thread, after the sink thread started. Waits until the sink has resumed and
  /// prepared (sink::prepare()), at most `timeout`: the sources start after that, so the first
  /// records do not wait behind the sink's start-up (the file sink's first ledger write).
  bool wait_ready(std::chrono::nanoseconds timeout);
  /// Any thread: give up on the destination now; what is unconfirmed stays in the spool.
  void abandon() noexcept;

  // Spool mode figures (any thread).
  std::uint64_t backlog() const noexcept;
  std::uint64_t skipped_records() const noexcept { return skipped_.load(); }
  std::uint64_t rewinds() const noexcept { return rewinds_.load(); }
  /// Records taken from the spool's memory tail rather than read back from disk.
  std::uint64_t memory_records() const noexcept { return memory_records_.load(); }

  /// Whether the sink thread polls a steady input before sleeping: not when the process was
  /// confined to one CPU when the stage was built.
  bool polls_steady_input() const noexcept { return steady_polling_; }

 private:
  void run_from_ring();
  void run_from_spool();
  void settled(std::uint64_t sequence, delivery_outcome outcome) override;
  void settled_range(std::uint64_t first, std::uint64_t count, delivery_outcome outcome) override;
  status checkpoint() override;
  // batch_keeper: the sink may keep the batch being written (the one in keepable_) past write().
  const record_batch* keep(const record_batch& batch) override;
  void drop(const record_batch* kept) override;
  /// The sink's wake callback (any thread): answers are ready, stop waiting.
  static void on_sink_wake(void* self) noexcept;
  /// Confirms what the tracker has settled and writes the ledger with the sink's state.
  status persist_ledger();
  void record_latency(const record_batch& batch);
  /// Monotonic receive time of the batch's oldest record (0 when none is known).
  static std::uint64_t oldest_ingest(const record_batch& batch) noexcept;

  std::unique_ptr<sink> sink_;
  ring_edge<record_batch*> input_;
  batch_pool<record_batch>& pool_;
  stage_counters& counters_;
  std::chrono::milliseconds flush_interval_;
  // Whether the sink thread polls for the next frame of a steady input before sleeping
  // (sink_stage.cpp): only when the process may run on two CPUs or more. Confined to one, the
  // polling only takes the CPU from the threads that produce that frame.
  bool steady_polling_ = true;
  spool* spool_ = nullptr;
  std::size_t spool_index_ = 0;
  spool_memory_tail* tail_ = nullptr;
  std::vector<std::string> sources_;
  std::unique_ptr<delivery_tracker> tracker_;
  std::atomic<bool> abandoned_{false};
  record_batch* keepable_ = nullptr;  // the pooled batch being written, if any
  std::atomic<bool> answers_{false};  // set by on_sink_wake, cleared by the waits
  std::atomic<bool> ready_{false};    // resumed and prepared (wait_ready)
  waiter ready_waiter_;
  void mark_ready() noexcept;
  std::atomic<std::uint64_t> skipped_{0};
  std::atomic<std::uint64_t> rewinds_{0};
  std::atomic<std::uint64_t> memory_records_{0};
};

}  // namespace edgepipe
