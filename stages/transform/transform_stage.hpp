// The transform thread: pops payload batches, runs every payload through its source's compiled
// transform, packs records into record batches and fans each batch out to every sink's ring,
// and dead letters to the dead-letter sink's ring. A batch is handed on when it is full or when
// no input is waiting (low latency when idle, large batches under load).
// Threading: run() is the body of the thread "transform".
#pragma once

#include <deque>
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

/// Per configured source (by source id), for the status page; written by the transform thread.
struct transform_source_counters {
  counter payloads;
  counter records;   // records out (not filtered, not rejected)
  counter rejected;  // records and whole payloads sent to the dead letters
};

class transform_stage {
 public:
  /// Every edge in `inputs` must share one consumer waiter (the pipeline's
  /// transform_input_waiter_), so a payload on any of them wakes this one thread.
  transform_stage(transform_engine& engine, std::vector<ring_edge<payload_batch*>*> inputs,
                  batch_pool<payload_batch>& payload_pool, batch_pool<record_batch>& record_pool,
                  std::vector<ring_edge<record_batch*>*> outputs,
                  ring_edge<record_batch*>& dead_letter_output, stage_counters& counters,
                  std::size_t batch_records, std::size_t batch_bytes);
  /// runs on: main thread, before run(). A ring of record batches that need no transform (a
  /// postgres_cdc source builds its records itself): they are handed on to the outputs as they
  /// are (records renumbered in the pipeline's sequence). Its consumer waiter must be the one
  /// the payload inputs share.
  void add_record_input(ring_edge<record_batch*>* in) { record_inputs_.push_back(in); }
  /// runs on: transform thread. Returns when every input is closed and drained.
  void run();
  const transform_stage_counters& payload_counters() const noexcept { return payload_counters_; }
  /// Payloads whose body was not valid JSON (or not the expected shape), by source id.
  std::uint64_t invalid_bodies(source_id source) const noexcept {
    return source < invalid_by_source_.size() ? invalid_by_source_[source].get() : 0;
  }
  /// Counters of source `id` (the transform's program index); nullptr when out of range.
  const transform_source_counters* source_counters(std::size_t id) const noexcept {
    return id < per_source_.size() ? &per_source_[id] : nullptr;
  }
  std::uint64_t output_stalls() const noexcept;
  std::uint64_t input_stalls() const noexcept;

 private:
  void ship(record_batch*& batch, bool to_dead_letters);
  void process(payload_batch* in, record_batch*& records, record_batch*& dead);
  void forward(record_batch* in);

  transform_engine& engine_;
  std::vector<ring_edge<payload_batch*>*> inputs_;
  std::vector<ring_edge<record_batch*>*> record_inputs_;
  batch_pool<payload_batch>& payload_pool_;
  batch_pool<record_batch>& record_pool_;
  std::vector<ring_edge<record_batch*>*> outputs_;
  ring_edge<record_batch*>& dead_letter_output_;
  stage_counters& counters_;
  transform_stage_counters payload_counters_;
  std::vector<counter> invalid_by_source_;  // one per configured source
  std::size_t batch_records_;
  std::size_t batch_bytes_;
  std::uint64_t next_sequence_ = 0;
  std::deque<transform_source_counters> per_source_;  // deque: atomics do not move
};

}  // namespace edgepipe
