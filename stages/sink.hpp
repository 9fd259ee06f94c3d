// What every sink implements. The sink stage (stages/sink_stage) owns the thread, the input
// ring, the flush timer and the counters; a sink only moves records to its destination.
// Threading: every method runs on the sink's own thread ("runs on: sink thread"), except
// open(), which runs on the main thread before any thread starts.
#pragma once

#include <cstdint>
#include <string>

#include "core/batch.hpp"
#include "core/stage_counters.hpp"
#include "core/status.hpp"

namespace edgepipe {

class sink {
 public:
  virtual ~sink() = default;
  virtual const std::string& name() const = 0;
  /// runs on: main thread, before the pipeline starts. Fails early (bad path, no server).
  virtual status open() = 0;
  /// runs on: sink thread. Accepts a batch; records count as delivered only once flush()
  /// confirms them (counters.records_out), failures go to counters.failed.
  virtual void write(const record_batch& batch, stage_counters& counters) = 0;
  /// runs on: sink thread, when idle, periodically and at the end.
  virtual void flush(stage_counters& counters) = 0;
  /// runs on: sink thread, once, after the last flush.
  virtual status close() = 0;
};

}  // namespace edgepipe
