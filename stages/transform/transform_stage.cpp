#include "stages/transform/transform_stage.hpp"

namespace edgepipe {

transform_stage::transform_stage(
    transform_engine& engine, std::vector<ring_edge<payload_batch*>*> inputs,
    batch_pool<payload_batch>& payload_pool, batch_pool<record_batch>& record_pool,
    std::vector<ring_edge<record_batch*>*> outputs, ring_edge<record_batch*>& dead_letter_output,
    stage_counters& counters, std::size_t batch_records, std::size_t batch_bytes)
    : engine_(engine),
      inputs_(std::move(inputs)),
      payload_pool_(payload_pool),
      record_pool_(record_pool),
      outputs_(std::move(outputs)),
      dead_letter_output_(dead_letter_output),
      counters_(counters),
      invalid_by_source_(engine.programs().size()),
      batch_records_(batch_records),
      batch_bytes_(batch_bytes),
      per_source_(engine.programs().size()) {}

void transform_stage::ship(record_batch*& batch, bool to_dead_letters) {
  if (batch->empty()) return;
  if (to_dead_letters) {
    batch->set_readers(1);
    if (!dead_letter_output_.push(batch)) record_pool_.release(batch);
  } else {
    counters_.records_out.add(batch->records().size());
    counters_.bytes_out.add(batch->bytes());
    batch->set_readers(static_cast<int>(outputs_.size()));
    for (auto* out : outputs_) {
      if (!out->push(batch) && batch->release_reader()) record_pool_.release(batch);
    }
  }
  batch = record_pool_.acquire();
}

void transform_stage::process(payload_batch* in, record_batch*& records, record_batch*& dead) {
  counters_.batches_in.add();
  counters_.bytes_in.add(in->bytes());
  for (const payload& p : in->payloads()) {
    const payload_outcome o = engine_.run(p, in->body(p), *records, *dead, next_sequence_);
    payload_counters_.payloads.add();
    counters_.records_in.add(o.records + o.rejected_records + o.filtered);
    counters_.rejected.add(o.rejected_records + (o.payload_rejected ? 1u : 0u));
    counters_.filtered.add(o.filtered);
    if (o.payload_rejected) payload_counters_.payloads_rejected.add();
    if (o.invalid_body && p.source < invalid_by_source_.size()) invalid_by_source_[p.source].add();
    if (o.skipped_status) payload_counters_.skipped_status.add();
    if (p.source < per_source_.size()) {
      transform_source_counters& sc = per_source_[p.source];
      sc.payloads.add();
      sc.records.add(o.records);
      sc.rejected.add(o.rejected_records + (o.payload_rejected ? 1u : 0u));
    }
    if (records->records().size() >= batch_records_ || records->bytes() >= batch_bytes_)
      ship(records, false);
    if (dead->records().size() >= batch_records_ || dead->bytes() >= batch_bytes_) ship(dead, true);
  }
  payload_pool_.release(in);
}

void transform_stage::forward(record_batch* in) {
  counters_.batches_in.add();
  counters_.bytes_in.add(in->bytes());
  counters_.records_in.add(in->records().size());
  for (record& r : in->records()) r.sequence = next_sequence_++;
  if (!in->records().empty()) {
    const source_id src = in->records().front().source;
    if (src < per_source_.size()) per_source_[src].records.add(in->records().size());
  }
  // ship() hands a non-empty batch on and replaces it with an empty one from the pool.
  record_batch* b = in;
  ship(b, false);
  record_pool_.release(b);
}

void transform_stage::run() {
  record_batch* records = record_pool_.acquire();
  record_batch* dead = record_pool_.acquire();
  std::vector<bool> finished(inputs_.size(), false);
  std::vector<bool> finished_records(record_inputs_.size(), false);
  std::size_t open = inputs_.size() + record_inputs_.size();
  // All inputs share one consumer waiter (they were built with the same one), so waiting on
  // the first edge's pop() would miss the others: poll all, then sleep on the shared channel.
  while (open > 0) {
    bool got_any = false;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (finished[i]) continue;
      payload_batch* in = nullptr;
      // closed() is read before the last try_pop so a push racing the close is not lost.
      const bool closed = inputs_[i]->closed();
      if (inputs_[i]->try_pop(in)) {
        process(in, records, dead);
        got_any = true;
      } else if (closed) {
        finished[i] = true;
        --open;
      }
    }
    for (std::size_t i = 0; i < record_inputs_.size(); ++i) {
      if (finished_records[i]) continue;
      record_batch* in = nullptr;
      const bool closed = record_inputs_[i]->closed();
      if (record_inputs_[i]->try_pop(in)) {
        forward(in);
        got_any = true;
      } else if (closed) {
        finished_records[i] = true;
        --open;
      }
    }
    if (got_any) continue;
    // Nothing waiting anywhere: hand on what we have rather than sit on it, then sleep.
    ship(records, false);
    ship(dead, true);
    if (open == 0) break;
    auto ready = [&] {
      for (std::size_t i = 0; i < inputs_.size(); ++i)
        if (!finished[i] && (!inputs_[i]->empty() || inputs_[i]->closed())) return true;
      for (std::size_t i = 0; i < record_inputs_.size(); ++i)
        if (!finished_records[i] && (!record_inputs_[i]->empty() || record_inputs_[i]->closed()))
          return true;
      return false;
    };
    if (!inputs_.empty())
      inputs_.front()->wait_any(ready);
    else
      record_inputs_.front()->wait_any(ready);
  }
  ship(records, false);
  ship(dead, true);
  record_pool_.release(records);
  record_pool_.release(dead);
  for (auto* out : outputs_) out->close();
  dead_letter_output_.close();
}

std::uint64_t transform_stage::input_stalls() const noexcept {
  std::uint64_t s = 0;
  for (auto* in : inputs_) s += in->stalls();
  for (auto* in : record_inputs_) s += in->stalls();
  return s;
}

std::uint64_t transform_stage::output_stalls() const noexcept {
  std::uint64_t s = dead_letter_output_.stalls();
  for (auto* out : outputs_) s += out->stalls();
  return s;
}

}  // namespace edgepipe
