// The postgres_cdc source: owns a `replication=database` libpq connection, creates the logical
// slot (with an exported snapshot) when missing, reads the initial snapshot in a second session,
// streams pgoutput v1 from the slot, and hands Debezium events to a handler. It confirms to
// PostgreSQL only the LSN the handler reports durable (confirm_durable), plus idle WAL.
// The methods are defined in three files:
//   postgres_cdc_source.cpp     run() and reconnects, a connection's setup (publication, slot,
//                               resend filter), confirm_durable(), lag_bytes(), and what the
//                               snapshot and the stream share (table_selected, count, the
//                               primary key query).
//   postgres_cdc_snapshot.cpp   take_snapshot() and the snapshot marker (redo_cut_snapshot,
//                               clear_marker_if_durable).
//   postgres_cdc_streaming.cpp  stream(), handle_xlog(), send_status(), load_primary_key().
// Threading: run() is the body of the source thread ("src:pgcdc"); confirm_durable(),
// request_stop() and counters() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/byte_arena.hpp"
#include "core/status.hpp"
#include "stages/sources/postgres_cdc/debezium_envelope.hpp"
#include "stages/sources/postgres_cdc/pg_connection.hpp"
#include "stages/sources/postgres_cdc/pgoutput_decoder.hpp"
#include "stages/sources/postgres_cdc/resend_filter.hpp"

namespace edgepipe::pgcdc {

enum class snapshot_mode : std::uint8_t { initial, never, initial_only };

struct postgres_cdc_options {
  std::string conninfo;  // libpq keyword/value or URI
  std::string password;  // resolved from env:/file by the config layer; never logged
  std::string publication = "edgepipe_cdc";
  std::string slot = "edgepipe";
  std::vector<std::string> tables;  // "schema.table"; empty = every table of the publication
  snapshot_mode snapshot = snapshot_mode::initial;
  envelope_options envelope;
  std::uint64_t status_interval_ms = 10'000;  // standby status updates at least this often
  std::uint64_t backoff_initial_ms = 500;
  std::uint64_t backoff_max_ms = 30'000;
  /// When set (edgepipe run: in the spool directory), a file that exists while a snapshot is
  /// not yet durable (snapshot_marker.hpp): a start that finds it drops the slot and takes the
  /// snapshot again. Empty (cdc-print): a kill -9 during the snapshot leaves the slot as is.
  std::string snapshot_marker_path;
  /// The last change edgepipe already holds (edgepipe run: the newest event of this source in
  /// the spool at start, resend_filter.hpp): what the slot sends again up to it is skipped and
  /// counted, not handed on twice. Within one process the last change handed on is used.
  std::optional<resume_position> resume;
};

/// Where events go. runs on: the source thread.
class cdc_event_handler {
 public:
  virtual ~cdc_event_handler() = default;
  /// Events of one change (1-3) or one snapshot row, written in `arena`.
  virtual void on_events(const byte_arena& arena, std::span<const cdc_event> events) = 0;
  /// Every event handed over so far belongs to transactions committed up to `end_lsn`. Once
  /// they are durable, call confirm_durable(end_lsn) (from any thread).
  virtual void on_commit(lsn_t end_lsn) = 0;
  /// The snapshot is complete and streaming starts from `consistent_point`.
  virtual void on_snapshot_done(lsn_t /*consistent_point*/) {}
  /// Nothing more to read from the server right now (a good moment to hand on a batch and to
  /// confirm what became durable). Called at least every 100 ms while streaming.
  virtual void on_idle() {}
};

struct postgres_cdc_counters {
  std::atomic<std::uint64_t> inserts{0}, updates{0}, deletes{0}, truncates{0}, reads{0},
      tombstones{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> skipped_tables{0};  // changes of tables not in `tables`
  std::atomic<std::uint64_t> unknown_type_values{0};
  std::atomic<std::uint64_t> fallback_values{0};
  std::atomic<std::uint64_t> relations{0};       // Relation messages (incl. after ALTER TABLE)
  std::atomic<std::uint64_t> resent_skipped{0};  // changes sent again that edgepipe held already
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> slots_created{0};
  std::atomic<std::uint64_t> slots_lost{0};  // slot vanished while we used it (dropped by someone)
  std::atomic<std::uint64_t> snapshots_redone{0};  // a snapshot cut short, slot dropped, redone
  std::atomic<std::uint64_t> status_updates{0};
  std::atomic<std::uint64_t> received_lsn{0};    // last WAL position received
  std::atomic<std::uint64_t> server_wal_end{0};  // the server's end of WAL, from its messages
  std::atomic<std::uint64_t> confirmed_lsn{0};   // last flush LSN sent to the server
  std::atomic<std::int64_t> last_commit_unix_us{0};
  std::atomic<bool> streaming{false};
};

class postgres_cdc_source {
 public:
  postgres_cdc_source(postgres_cdc_options options, cdc_event_handler& handler);

  /// runs on: source thread, until request_stop() (or after the snapshot in initial_only).
  /// Connection errors are retried with backoff; the returned status is the last error, if
  /// stopping was not asked for (configuration errors such as a missing publication end it).
  status run();
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }
  /// The handler's durability hook: events up to this commit end LSN are safe.
  void confirm_durable(lsn_t lsn) noexcept;
  /// The highest LSN confirm_durable() was given (what the next status update may confirm).
  lsn_t durable_lsn() const noexcept { return durable_.load(std::memory_order_relaxed); }
  const postgres_cdc_counters& counters() const noexcept { return counters_; }
  /// Bytes of WAL the server holds for us beyond what we confirmed.
  std::uint64_t lag_bytes() const noexcept;

 private:
  status connect_and_stream(bool& fatal);
  status ensure_slot(bool& created, std::string& snapshot_name, lsn_t& consistent_point);
  status take_snapshot(const std::string& snapshot_name, lsn_t consistent_point);
  status stream(lsn_t start);
  status handle_xlog(const replication_frame& f);
  status send_status(bool reply_requested);
  status load_primary_key(std::uint32_t relid);
  bool table_selected(const relation& rel) const;
  void count(std::span<const cdc_event> events);
  void sleep_interruptible(std::uint64_t ms);
  /// The snapshot marker left by a snapshot cut short: drops the slot so it is taken again.
  status redo_cut_snapshot();
  /// Removes the snapshot marker once the snapshot's events are durable (logged on failure;
  /// tried again at the next call).
  void clear_marker_if_durable();

  postgres_cdc_options options_;
  cdc_event_handler& handler_;
  pg_connection repl_;
  pg_connection sql_;  // catalog queries (primary keys) while the replication session streams
  pgoutput_decoder decoder_;
  debezium_envelope envelope_;
  byte_arena arena_;
  std::vector<cdc_event> events_;
  postgres_cdc_counters counters_;
  std::atomic<bool> stop_{false};
  std::atomic<lsn_t> durable_{0};
  bool marker_pending_ = false;  // the marker waits for durable_ to reach marker_lsn_
  lsn_t marker_lsn_ = 0;
  bool marker_error_logged_ = false;

  // Stream state (source thread only).
  bool in_transaction_ = false;
  std::uint32_t xid_ = 0;
  std::int64_t commit_unix_us_ = 0;
  lsn_t last_commit_lsn_ = 0;  // end LSN of the last commit handed to the handler
  lsn_t sequence_commit_ = 0;  // end of the last commit on this connection (source.sequence[0])
  lsn_t stream_start_ = 0;     // where this connection's stream started (confirmed or consistent)
  std::optional<resume_position> held_;  // the last change held (options_.resume, then handed)
  resend_filter resend_filter_;
  lsn_t received_ = 0;
  lsn_t sent_flush_ = 0;
  std::uint64_t last_status_mono_ns_ = 0;
  bool slot_seen_ = false;  // the slot existed earlier in this process (a later miss = dropped)
};

}  // namespace edgepipe::pgcdc
