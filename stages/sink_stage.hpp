// The thread around a sink: pops record batches from its ring, hands them to the sink, flushes
// when the ring is idle or every flush interval, returns batches to the pool (the last of the
// fan-out readers does), and flushes and closes the sink when the ring is closed and drained.
// Threading: run() is the body of the sink thread "sink:<name>".
#pragma once

#include <chrono>
#include <memory>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "stages/sink.hpp"

namespace edgepipe {

class sink_stage {
 public:
  sink_stage(std::unique_ptr<sink> s, std::size_t ring_capacity, batch_pool<record_batch>& pool,
             stage_counters& counters,
             std::chrono::milliseconds flush_interval = std::chrono::milliseconds(100));
  ring_edge<record_batch*>& input() noexcept { return input_; }
  sink& target() noexcept { return *sink_; }
  stage_counters& counters() noexcept { return counters_; }
  /// runs on: sink thread.
  void run();

 private:
  std::unique_ptr<sink> sink_;
  ring_edge<record_batch*> input_;
  batch_pool<record_batch>& pool_;
  stage_counters& counters_;
  std::chrono::milliseconds flush_interval_;
};

}  // namespace edgepipe
