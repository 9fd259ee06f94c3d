// The transform thread: pops payload batches, runs every payload through its source's compiled
// transform, packs records into record batches and fans each batch out to every sink's ring,
// and dead letters to the dead-letter sink's ring. A batch is handed on when it is full or when
// no input is waiting (low latency when idle, large batches under load).
// Threading: run() is the body of the thread "transform".
#pragma once

#include <vector>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "core/stage_counters.hpp"
#include "stages/transform/transform_engine.hpp"

namespace edgepipe {

struct transform_stage_counters {
  counter payloads;
  counter payloads_rejected;
  counter skipped_status;  // non-2xx HTTP responses: not data
};

class transform_stage {
 public:
  /// `inputs` must have been constructed with `input_waiter()` as their consumer waiter.
  transform_stage(transform_engine& engine, std::vector<ring_edge<payload_batch*>*> inputs,
                  batch_pool<payload_batch>& payload_pool, batch_pool<record_batch>& record_pool,
                  std::vector<ring_edge<record_batch*>*> outputs,
                  ring_edge<record_batch*>& dead_letter_output, stage_counters& counters,
                  std::size_t batch_records, std::size_t batch_bytes);
  /// runs on: transform thread. Returns when every input is closed and drained.
  void run();
  /// The wake-up channel shared by all input edges.
  const transform_stage_counters& payload_counters() const noexcept { return payload_counters_; }
  std::uint64_t output_stalls() const noexcept;
  std::uint64_t input_stalls() const noexcept;

 private:
  void ship(record_batch*& batch, bool to_dead_letters);
  void process(payload_batch* in, record_batch*& records, record_batch*& dead);

  transform_engine& engine_;
  std::vector<ring_edge<payload_batch*>*> inputs_;
  batch_pool<payload_batch>& payload_pool_;
  batch_pool<record_batch>& record_pool_;
  std::vector<ring_edge<record_batch*>*> outputs_;
  ring_edge<record_batch*>& dead_letter_output_;
  stage_counters& counters_;
  transform_stage_counters payload_counters_;
  std::size_t batch_records_;
  std::size_t batch_bytes_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace edgepipe
