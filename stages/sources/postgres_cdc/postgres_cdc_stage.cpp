#include "stages/sources/postgres_cdc/postgres_cdc_stage.hpp"

#include <algorithm>

#include "platform/clock.hpp"
#include "platform/log.hpp"

namespace edgepipe::pgcdc {

postgres_cdc_options options_from_spec(const postgres_cdc_spec& spec,
                                       std::string snapshot_marker_path,
                                       std::optional<resume_position> resume) {
  postgres_cdc_options o;
  o.snapshot_marker_path = std::move(snapshot_marker_path);
  o.resume = resume;
  o.conninfo = spec.conninfo;
  o.password = spec.password;
  o.publication = spec.publication;
  o.slot = spec.slot;
  o.tables = spec.tables;
  o.snapshot = spec.snapshot == "never"          ? snapshot_mode::never
               : spec.snapshot == "initial_only" ? snapshot_mode::initial_only
                                                 : snapshot_mode::initial;
  o.envelope.topic_prefix = spec.topic_prefix;
  o.envelope.decimals = decimal_handling_named(spec.decimal_handling);
  o.envelope.tombstones = spec.tombstones;
  o.status_interval_ms = spec.status_interval_ms;
  return o;
}

postgres_cdc_stage::postgres_cdc_stage(const std::string& name, source_id id,
                                       const postgres_cdc_spec& spec, std::size_t batch_bytes,
                                       std::size_t ring_capacity, waiter* consumer_waiter,
                                       batch_pool<record_batch>& pool, stage_counters& counters,
                                       std::function<std::uint64_t()> durable_end,
                                       std::string snapshot_marker_path,
                                       std::optional<resume_position> resume)
    : name_(name),
      slot_(spec.slot),
      id_(id),
      batch_records_(spec.batch_records),
      batch_bytes_(batch_bytes),
      pool_(pool),
      counters_(counters),
      durable_end_(std::move(durable_end)),
      ring_(ring_capacity, consumer_waiter),
      source_(options_from_spec(spec, std::move(snapshot_marker_path), resume), *this) {}

const char* postgres_cdc_stage::state() const noexcept {
  switch (state_.load(std::memory_order_relaxed)) {
    case 1:
      return "stopped";
    case 2:
      return "failed";
    case 3:
      return "finished";
    default:
      break;
  }
  const auto& c = source_.counters();
  if (c.streaming.load(std::memory_order_relaxed)) return "streaming";
  if (c.reads.load(std::memory_order_relaxed) != 0 &&
      c.transactions.load(std::memory_order_relaxed) == 0)
    return "snapshot";
  return "connecting";
}

std::string postgres_cdc_stage::last_error() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

void postgres_cdc_stage::run() {
  const status s = source_.run();
  ship();
  check_durable();
  if (batch_ != nullptr) pool_.release(batch_);
  batch_ = nullptr;
  if (!s) {
    {
      std::lock_guard lock(error_mutex_);
      last_error_ = s.message();
    }
    state_.store(2, std::memory_order_relaxed);
    log_line(log_level::error, "src:" + name_,
             "sources." + name_ + " (slot " + slot_ + ") stopped: " + s.message());
  } else {
    // Ended without being asked to: an initial_only snapshot is done, which is not a fault.
    state_.store(source_.stop_requested() ? 1 : 3, std::memory_order_relaxed);
  }
  ring_.close();
}

void postgres_cdc_stage::on_events(const byte_arena& arena, std::span<const cdc_event> events) {
  if (batch_ == nullptr) batch_ = pool_.acquire();  // after a ship: the next batch
  const std::int64_t now_ns = unix_now_ns();
  const std::uint64_t mono = mono_now_ns();
  for (const cdc_event& e : events) {
    const std::string_view topic = arena.view(e.topic_off, e.topic_len);
    if (last_stream_ == 0 || topic != last_topic_) {
      last_topic_.assign(topic);
      last_stream_ = batch_->add_stream(topic);
    }
    record r;
    r.key_offset = arena_offset(batch_->arena().size());
    r.key_length = e.key_len;
    batch_->arena().append(arena.view(e.key_off, e.key_len));
    r.value_offset = arena_offset(batch_->arena().size());
    r.value_length = e.value_len;  // 0: a tombstone (a null Kafka value)
    batch_->arena().append(arena.view(e.value_off, e.value_len));
    r.event_time_ms = now_ns / 1'000'000;
    r.ingest_unix_ns = now_ns;
    r.ingest_mono_ns = mono;
    r.source = id_;
    r.stream = last_stream_;
    batch_->records().push_back(r);
    counters_.bytes_in.add(e.key_len + e.value_len);
  }
  counters_.records_in.add(events.size());
  if (batch_->records().size() >= batch_records_ || batch_->bytes() >= batch_bytes_) ship();
}

void postgres_cdc_stage::on_commit(lsn_t end_lsn) {
  if (batch_ == nullptr || batch_->empty()) {
    // Every event of this transaction (if it had any for us) is in a batch already shipped.
    if (last_shipped_ == 0) {
      source_.confirm_durable(end_lsn);  // nothing of ours was ever in flight
    } else if (!pending_.empty() && pending_.back().ticket == last_shipped_) {
      pending_.back().lsn = end_lsn;
    } else {
      pending_.push_back({last_shipped_, end_lsn});
    }
  } else {
    open_lsn_ = end_lsn;
    // Low latency while the pipeline keeps up; larger batches when it does not. (occupancy():
    // empty() belongs to the consumer's side of the ring.)
    if (ring_.occupancy() == 0) ship();
  }
  check_durable();
}

void postgres_cdc_stage::on_snapshot_done(lsn_t consistent_point) {
  ship();
  // Like a commit: the snapshot's events are durable once the last batch holding them is.
  on_commit(consistent_point);
}

void postgres_cdc_stage::on_idle() {
  ship();
  check_durable();
}

void postgres_cdc_stage::appended(std::uint64_t ticket, std::uint64_t end_id) noexcept {
  appended_end_.store(end_id, std::memory_order_release);
  appended_ticket_.store(ticket, std::memory_order_release);
}

void postgres_cdc_stage::ship() {
  if (batch_ == nullptr || batch_->empty()) return;
  const std::uint64_t ticket = next_ticket_++;
  batch_->observe_append(this, ticket);
  if (open_lsn_ != 0) {
    if (pending_.size() >= kMaxPending) {
      // Merged into the newest pair: that commit is confirmed once this later batch is durable.
      pending_.back() = {ticket, open_lsn_};
      merged_.fetch_add(1, std::memory_order_relaxed);
    } else {
      pending_.push_back({ticket, open_lsn_});
    }
    open_lsn_ = 0;
  }
  last_shipped_ = ticket;
  pending_size_.store(pending_.size(), std::memory_order_relaxed);
  counters_.batches_in.add();
  counters_.records_out.add(batch_->records().size());
  counters_.bytes_out.add(batch_->bytes());
  batch_->set_readers(1);
  if (!ring_.push(batch_)) pool_.release(batch_);  // the consumer abandoned the ring
  batch_ = nullptr;                                // the next events take a new one
  last_stream_ = 0;                                // stream names live in their batch's arena
}

void postgres_cdc_stage::check_durable() {
  if (pending_.empty()) return;
  if (candidate_ticket_ == 0) {
    candidate_ticket_ = appended_ticket_.load(std::memory_order_acquire);
    candidate_end_ = appended_end_.load(std::memory_order_acquire);
    if (candidate_ticket_ == 0) return;
  }
  if (durable_end_() < candidate_end_) return;
  lsn_t lsn = 0;
  while (!pending_.empty() && pending_.front().ticket <= candidate_ticket_) {
    lsn = std::max(lsn, pending_.front().lsn);
    pending_.pop_front();
  }
  candidate_ticket_ = 0;
  pending_size_.store(pending_.size(), std::memory_order_relaxed);
  if (lsn != 0) source_.confirm_durable(lsn);
}

}  // namespace edgepipe::pgcdc
