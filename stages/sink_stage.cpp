#include "stages/sink_stage.hpp"

#include <cstdio>

#include "platform/clock.hpp"

namespace edgepipe {

sink_stage::sink_stage(std::unique_ptr<sink> s, std::size_t ring_capacity,
                       batch_pool<record_batch>& pool, stage_counters& counters,
                       std::chrono::milliseconds flush_interval)
    : sink_(std::move(s)),
      input_(ring_capacity),
      pool_(pool),
      counters_(counters),
      flush_interval_(flush_interval) {}

void sink_stage::run() {
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
      sink_->write(*batch, counters_);
      // Latency: payload received -> record handed to the sink, one clock read per batch.
      const std::uint64_t now = mono_now_ns();
      for (const record& r : batch->records())
        counters_.latency_ns.record(now > r.ingest_mono_ns ? now - r.ingest_mono_ns : 0);
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
    std::fprintf(stderr, "edgepipe: sink %s: %s\n", sink_->name().c_str(), s.message().c_str());
}

}  // namespace edgepipe
