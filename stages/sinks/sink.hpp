// What every sink implements. The sink stage (stages/sinks/sink_stage) owns the thread, the input
// (a ring, or the spool), the flush timer and the counters; a sink only moves records to its
// destination and says what became of each one.
// Threading: every method runs on the sink's own thread ("runs on: sink thread"), except
// open(), which runs on the main thread before any thread starts, and request_abandon(), which
// any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/batch.hpp"
#include "core/stage_counters.hpp"
#include "core/status.hpp"
#include "platform/clock.hpp"

namespace edgepipe {

/// What became of one record. Only `failed` makes the spool send it again.
enum class delivery_outcome : std::uint8_t {
  delivered,
  duplicate,      // the destination already had it (MongoDB duplicate `_id`, a line the file
                  // already holds): as good as delivered
  dead_lettered,  // permanently refused (e.g. a document MongoDB rejects): in the sink's DLQ
  failed,         // not delivered (timeout, broker gone, server down): retried from the spool
};

/// Receives each record's outcome, by record sequence (the spool's record id). Called on the
/// sink thread, from inside write()/flush()/close().
class delivery_listener {
 public:
  virtual ~delivery_listener() = default;
  virtual void settled(std::uint64_t sequence, delivery_outcome outcome) = 0;
  virtual void settled_range(std::uint64_t first, std::uint64_t count,
                             delivery_outcome outcome) = 0;
  /// Writes the sink's ledger now: the watermark over what is settled so far and the sink's
  /// ledger_state(), in one crash-safe write (the file sink, before it writes into a new file
  /// after a rotation). Called on the sink thread, from inside write()/flush().
  virtual status checkpoint() { return status::ok(); }
};

/// Lets a sink keep a batch given to write() past the call (a reader reference), so that it can
/// hand records to a library without copying them (the Kafka sink, until the last delivery
/// report of the batch's messages). Given by the sink stage; runs on: sink thread.
class batch_keeper {
 public:
  virtual ~batch_keeper() = default;
  /// A reference on `batch`, the one being written, valid until drop(); nullptr when that batch
  /// cannot outlive write() (a frame read back from disk into a reused buffer): copy it then.
  virtual const record_batch* keep(const record_batch& batch) = 0;
  virtual void drop(const record_batch* kept) = 0;
};

class sink {
 public:
  virtual ~sink() = default;
  virtual const std::string& name() const = 0;
  /// runs on: main thread, before the pipeline starts. Fails early (bad path, no server).
  virtual status open() = 0;
  /// runs on: sink thread. Accepts a batch; records count as delivered only once flush()
  /// confirms them (counters.records_out), failures go to counters.failed. Each record's
  /// outcome also goes to the listener, when there is one.
  virtual void write(const record_batch& batch, stage_counters& counters) = 0;
  /// runs on: sink thread, when idle, periodically and at the end.
  virtual void flush(stage_counters& counters) = 0;
  /// runs on: sink thread, once, after the last flush. After request_abandon(), returns
  /// promptly and reports what it could not deliver as failed.
  virtual status close() = 0;

  /// Spool mode. What the sink needs after a restart to avoid writing again what its
  /// destination already holds (the file sink: which file, its confirmed length, the record ids
  /// it holds), as `key=value\n` lines; stored in the sink's ledger with the watermark, in the
  /// same atomic write. runs on: sink thread, at each ledger write. Valid until the next call.
  virtual std::string_view ledger_state() { return {}; }
  /// Spool mode: the ledger_state() of the last ledger written (empty: none). runs on: sink
  /// thread, once, before the first write().
  virtual void resume(std::string_view ledger_state) { (void)ledger_state; }
  /// Spool mode: work the first write() would otherwise do before its records go out (the file
  /// sink names its file in the ledger: an fdatasync, milliseconds), done while the pipeline
  /// starts instead of while the first records wait; the sources start after it (at most
  /// sink_stage::kStartWait later). Failing here is not final: write() tries again. runs on: sink
  /// thread, once, after resume().
  virtual void prepare() {}

  /// Any thread: why the sink stopped delivering for good (a fenced exactly-once Kafka
  /// producer), for /health; empty while it delivers or retries.
  virtual std::string fault() const { return {}; }

  /// runs on: main thread, before start.
  void set_listener(delivery_listener* l) noexcept { listener_ = l; }
  /// runs on: main thread, before start. Without a keeper no batch outlives write().
  void set_batch_keeper(batch_keeper* k) noexcept { keeper_ = k; }
  /// runs on: main thread, before start. `wake(ctx)` may be called from any thread (a library's
  /// own thread) when the sink has answers to collect (Kafka delivery reports): the stage then
  /// calls flush() at once instead of at its next poll. It must be cheap and never block.
  void set_wake(void (*wake)(void*), void* ctx) noexcept {
    wake_ = wake;
    wake_ctx_ = ctx;
  }
  /// runs on: main thread, before open(). The sink is fed from the spool of a daemon (`edgepipe
  /// run`): a destination that is down at start is then no reason to refuse to start (records
  /// wait in the spool). open()
  /// warns instead, and the sink finishes its setup (topics, indexes) on its own thread once the
  /// destination answers; until then its records fail and are retried from the spool.
  void set_may_start_down(bool may) noexcept { may_start_down_ = may; }
  /// Any thread: stop waiting for the destination (shutdown deadline passed); what is not
  /// delivered is reported failed and stays in the spool.
  void request_abandon() noexcept { abandoned_.store(true, std::memory_order_relaxed); }
  bool abandoned() const noexcept { return abandoned_.load(std::memory_order_relaxed); }

 protected:
  /// How often a sink whose destination was down at start tries to finish its setup.
  static constexpr std::uint64_t kSetupRetryNs = 2'000'000'000;
  bool may_start_down_ = false;

  /// runs on: main thread, in open(). The destination is down and may_start_down_: setup
  /// (topics, indexes) is finished later by setup_ready().
  void defer_setup() noexcept {
    setup_pending_ = true;
    next_setup_ns_ = mono_now_ns() + kSetupRetryNs;
  }
  bool setup_pending() const noexcept { return setup_pending_; }
  /// runs on: sink thread, before sending. True once setup is done; while it is deferred, calls
  /// try_setup() at most every kSetupRetryNs (so a burst of writes does not wait on each).
  bool setup_ready() {
    if (!setup_pending_) return true;
    const std::uint64_t now = mono_now_ns();
    if (now < next_setup_ns_) return false;
    next_setup_ns_ = now + kSetupRetryNs;
    if (!try_setup()) return false;
    setup_pending_ = false;
    return true;
  }
  /// A deferred setup: does the destination answer now? Then create what open() would have.
  virtual bool try_setup() { return true; }
  void settle(std::uint64_t sequence, delivery_outcome outcome) {
    if (listener_ != nullptr) listener_->settled(sequence, outcome);
  }
  void settle_range(std::uint64_t first, std::uint64_t count, delivery_outcome outcome) {
    if (listener_ != nullptr && count != 0) listener_->settled_range(first, count, outcome);
  }
  bool has_listener() const noexcept { return listener_ != nullptr; }
  batch_keeper* keeper() const noexcept { return keeper_; }
  /// Any thread: tells the stage there are answers to collect (see set_wake()).
  void wake_stage() const noexcept {
    if (wake_ != nullptr) wake_(wake_ctx_);
  }
  /// The ledger written now (delivery_listener::checkpoint); ok without a listener.
  status checkpoint() { return listener_ != nullptr ? listener_->checkpoint() : status::ok(); }

 private:
  bool setup_pending_ = false;
  std::uint64_t next_setup_ns_ = 0;
  delivery_listener* listener_ = nullptr;
  batch_keeper* keeper_ = nullptr;
  void (*wake_)(void*) = nullptr;
  void* wake_ctx_ = nullptr;
  std::atomic<bool> abandoned_{false};
};

}  // namespace edgepipe
