// The postgres_cdc source inside a pipeline (`[sources.NAME] type = "postgres_cdc"`): runs
// pgcdc::postgres_cdc_source and packs its Debezium events into record batches (key = the
// event's key JSON, value = the event, null for a tombstone; stream = its topic
// `<prefix>.<schema>.<table>`), which the transform thread hands on unchanged to the spool.
//
// Durability (docs/cdc.md, "Delivery guarantee"): each shipped batch gets a ticket and asks the
// spool to tell where it went (spool_append_observer: the end of its record ids). A commit's
// end LSN is remembered with the ticket of the batch that holds its last event; it is confirmed
// to PostgreSQL once `durable_end()` (the spool's committed id with fsync on; the lowest sink
// watermark with fsync = off) passed that batch's end. Batches reach the spool in ticket order,
// so a later batch durable means every earlier one is. Memory: one open batch (shipped when
// full: a large transaction streams), the ring, and at most kMaxPending (ticket, LSN) pairs
// (beyond that the newest pairs merge: confirmations get coarser, never early).
//
// Threading: run() is the body of the thread "src:pgcdc"; the handler callbacks run on it.
// appended() runs on the spool thread (two atomics); request_stop() and the read-only
// accessors on any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "config/source_spec.hpp"
#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "core/stage_counters.hpp"
#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

namespace edgepipe::pgcdc {

/// The source's options from its validated config.
postgres_cdc_options options_from_spec(const postgres_cdc_spec& spec,
                                       std::string snapshot_marker_path = {},
                                       std::optional<resume_position> resume = {});

class postgres_cdc_stage final : public cdc_event_handler, public spool_append_observer {
 public:
  static constexpr std::size_t kMaxPending = 4096;

  /// `durable_end`: record ids below it are durable (called on this stage's thread).
  /// `snapshot_marker_path`, `resume`: see postgres_cdc_options (empty: none).
  postgres_cdc_stage(const std::string& name, source_id id, const postgres_cdc_spec& spec,
                     std::size_t batch_bytes, std::size_t ring_capacity, waiter* consumer_waiter,
                     batch_pool<record_batch>& pool, stage_counters& counters,
                     std::function<std::uint64_t()> durable_end,
                     std::string snapshot_marker_path = {},
                     std::optional<resume_position> resume = {});

  ~postgres_cdc_stage() override {
    if (batch_ != nullptr) pool_.release(batch_);
  }
  postgres_cdc_stage(const postgres_cdc_stage&) = delete;
  postgres_cdc_stage& operator=(const postgres_cdc_stage&) = delete;

  ring_edge<record_batch*>& output() noexcept { return ring_; }
  /// runs on: the thread "src:pgcdc", until request_stop(); closes the output at the end.
  void run();
  void request_stop() noexcept { source_.request_stop(); }

  const std::string& name() const noexcept { return name_; }
  const std::string& slot() const noexcept { return slot_; }
  const postgres_cdc_counters& source_counters() const noexcept { return source_.counters(); }
  const postgres_cdc_source& source() const noexcept { return source_; }
  std::uint64_t lag_bytes() const noexcept { return source_.lag_bytes(); }
  /// "connecting", "snapshot", "streaming", "stopped" (asked to), "finished" (an
  /// initial_only snapshot done) or "failed".
  const char* state() const noexcept;
  /// The error that ended the source (empty while it runs or after a clean stop).
  std::string last_error() const;
  /// Batches shipped and not yet durable, and (ticket, LSN) pairs merged at kMaxPending.
  std::uint64_t pending_commits() const noexcept {
    return pending_size_.load(std::memory_order_relaxed);
  }
  std::uint64_t merged_commits() const noexcept { return merged_.load(std::memory_order_relaxed); }

  // cdc_event_handler (source thread)
  void on_events(const byte_arena& arena, std::span<const cdc_event> events) override;
  void on_commit(lsn_t end_lsn) override;
  void on_snapshot_done(lsn_t consistent_point) override;
  void on_idle() override;
  // spool_append_observer (spool thread)
  void appended(std::uint64_t ticket, std::uint64_t end_id) noexcept override;

 private:
  void ship();
  void check_durable();

  std::string name_;
  std::string slot_;
  source_id id_;
  std::size_t batch_records_;
  std::size_t batch_bytes_;
  batch_pool<record_batch>& pool_;
  stage_counters& counters_;
  std::function<std::uint64_t()> durable_end_;
  ring_edge<record_batch*> ring_;
  postgres_cdc_source source_;

  // Source thread only.
  record_batch* batch_ = nullptr;
  std::string last_topic_;         // the stream name last written into batch_
  std::uint32_t last_stream_ = 0;  // its record::stream value
  lsn_t open_lsn_ = 0;             // the last commit whose events are all in batch_ (0: none)
  std::uint64_t next_ticket_ = 1;
  std::uint64_t last_shipped_ = 0;  // ticket of the last batch shipped (0: none yet)
  struct pending_commit {
    std::uint64_t ticket;
    lsn_t lsn;
  };
  std::deque<pending_commit> pending_;
  // A (ticket, end id) seen from the spool, waited for until durable: the newest one would
  // move ahead forever under steady load.
  std::uint64_t candidate_ticket_ = 0;
  std::uint64_t candidate_end_ = 0;

  // Spool thread -> source thread: the newest appended batch. end is stored before ticket, so
  // a reader that sees a ticket sees that batch's end or a later (larger) one: conservative.
  std::atomic<std::uint64_t> appended_ticket_{0};
  std::atomic<std::uint64_t> appended_end_{0};

  std::atomic<std::uint64_t> pending_size_{0};
  std::atomic<std::uint64_t> merged_{0};
  std::atomic<int> state_{0};  // 0 running, 1 stopped, 2 failed
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

}  // namespace edgepipe::pgcdc
