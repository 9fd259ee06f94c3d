// The replication loop: slot, snapshot, START_REPLICATION, frames -> decoder -> envelope ->
// handler, standby status updates, reconnect with backoff.
// Here: run() (reconnect with backoff), a connection's setup (the publication checked, the slot
// found or created, the resend filter armed, the snapshot taken when the slot is new), and what
// the snapshot and the stream share (table selection, event counters, the primary key query).
// The snapshot and its marker: postgres_cdc_snapshot.cpp; the stream and standby status:
// postgres_cdc_streaming.cpp.
#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sources/postgres_cdc/postgres_cdc_source_internal.hpp"
#include "stages/sources/postgres_cdc/snapshot_marker.hpp"
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe::pgcdc {
using namespace source_detail;  // kComponent (postgres_cdc_source_internal.hpp)

namespace {

constexpr const char* kPrimaryKeySql =
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
    "a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::oid AND i.indisprimary "
    "ORDER BY array_position(i.indkey::int2[], a.attnum)";

}  // namespace

namespace source_detail {

status load_key_columns(pg_connection& c, std::uint32_t relid, std::vector<std::string>& out) {
  pg_result r;
  if (auto s = c.query(kPrimaryKeySql, {std::to_string(relid)}, r); !s) return s;
  out.clear();
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
  return status::ok();
}

}  // namespace source_detail

postgres_cdc_source::postgres_cdc_source(postgres_cdc_options options, cdc_event_handler& handler)
    : options_(std::move(options)),
      handler_(handler),
      envelope_(options_.envelope),
      held_(options_.resume) {}

void postgres_cdc_source::confirm_durable(lsn_t lsn) noexcept {
  lsn_t cur = durable_.load(std::memory_order_relaxed);
  while (lsn > cur && !durable_.compare_exchange_weak(cur, lsn, std::memory_order_relaxed)) {
  }
}

std::uint64_t postgres_cdc_source::lag_bytes() const noexcept {
  const auto end = counters_.server_wal_end.load(std::memory_order_relaxed);
  const auto done = counters_.confirmed_lsn.load(std::memory_order_relaxed);
  return end > done ? end - done : 0;
}

void postgres_cdc_source::sleep_interruptible(std::uint64_t ms) {
  const auto deadline = mono_now_ns() + ms * 1'000'000;
  while (!stop_.load(std::memory_order_relaxed) && mono_now_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

status postgres_cdc_source::run() {
  std::uint64_t backoff = options_.backoff_initial_ms;
  status last;
  while (!stop_.load(std::memory_order_relaxed)) {
    bool fatal = false;
    const std::uint64_t started = mono_now_ns();
    last = connect_and_stream(fatal);
    counters_.streaming.store(false);
    repl_.close();
    sql_.close();
    decoder_.reset();
    in_transaction_ = false;
    if (last.is_ok() || stop_.load(std::memory_order_relaxed)) return status::ok();
    counters_.errors.fetch_add(1);
    if (fatal) {
      log_line(log_level::error, kComponent, last.message() + " (not retried)");
      return last;
    }
    // A connection that streamed for a while starts the backoff over.
    if (mono_now_ns() - started > 60'000'000'000ull) backoff = options_.backoff_initial_ms;
    log_line(log_level::warn, kComponent,
             "slot " + options_.slot + ": " + last.message() + "; reconnecting in " +
                 std::to_string(backoff) + " ms");
    sleep_interruptible(backoff);
    backoff = std::min(backoff * 2, options_.backoff_max_ms);
    counters_.reconnects.fetch_add(1);
  }
  return status::ok();
}

status postgres_cdc_source::connect_and_stream(bool& fatal) {
  fatal = false;
  if (auto s = sql_.open(options_.conninfo, options_.password, false, "edgepipe-cdc-catalog"); !s)
    return s;
  {
    pg_result r;
    if (auto s = sql_.query("SELECT 1 FROM pg_publication WHERE pubname = $1",
                            {options_.publication}, r);
        !s) {
      return s;
    }
    if (PQntuples(r.get()) == 0) {
      fatal = true;
      return status::error("publication " + options_.publication +
                           " does not exist (CREATE PUBLICATION " + options_.publication +
                           " FOR ALL TABLES)");
    }
    if (options_.envelope.database.empty()) {
      pg_result db;
      if (auto s = sql_.exec("SELECT current_database()", PGRES_TUPLES_OK, &db); !s) return s;
      options_.envelope.database = PQgetvalue(db.get(), 0, 0);
      envelope_ = debezium_envelope(options_.envelope);
    }
  }
  if (auto s = redo_cut_snapshot(); !s) return s;
  if (auto s = repl_.open(options_.conninfo, options_.password, true, "edgepipe-cdc"); !s) return s;
  bool created = false;
  std::string snapshot_name;
  lsn_t consistent_point = 0;
  if (auto s = ensure_slot(created, snapshot_name, consistent_point); !s) return s;
  sequence_commit_ = 0;  // this connection's first transaction follows stream_start_
  if (created) {
    // A new slot streams from its consistent point: nothing of it was held before.
    held_.reset();
    resend_filter_.disarm();
    stream_start_ = consistent_point;
  } else {
    stream_start_ = counters_.confirmed_lsn.load();
    resend_filter_.disarm();
    if (held_) {
      // A position beyond the server's WAL is not from this server's history (a re-created
      // cluster, another server): skipping by it could drop changes never held.
      pg_result wal;
      if (auto s = sql_.exec("SELECT pg_current_wal_lsn()::text", PGRES_TUPLES_OK, &wal); !s)
        return s;
      const auto end = parse_lsn(PQgetvalue(wal.get(), 0, 0));
      if (end && held_->lsn <= *end) {
        resend_filter_.arm(*held_);
      } else {
        log_line(log_level::warn, kComponent,
                 "slot " + options_.slot + ": the last change held (LSN " + format_lsn(held_->lsn) +
                     ") is beyond the server's WAL (" + PQgetvalue(wal.get(), 0, 0) +
                     "): not this server's history; changes sent again are not skipped");
        held_.reset();
      }
    }
  }
  if (created && options_.snapshot != snapshot_mode::never) {
    if (!options_.snapshot_marker_path.empty()) {
      marker_pending_ = true;  // written before the slot was created (ensure_slot)
      marker_lsn_ = consistent_point;
    }
    if (auto s = take_snapshot(snapshot_name, consistent_point); !s) {
      // Without a complete snapshot the slot must not survive: the next attempt redoes both.
      repl_.close();
      pg_result r;
      (void)sql_.query(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = "
          "$1",
          {options_.slot}, r);
      return status::error("snapshot failed, slot dropped to retry: " + s.message());
    }
    if (options_.snapshot == snapshot_mode::initial_only) {
      // Done once its events are durable (the marker goes then), or when asked to stop.
      while (marker_pending_ && !stop_.load(std::memory_order_relaxed)) {
        handler_.on_idle();
        clear_marker_if_durable();
        if (marker_pending_) sleep_interruptible(20);
      }
      log_line(log_level::info, kComponent, "snapshot done (initial_only): not streaming");
      return status::ok();
    }
  }
  return stream(0);
}

status postgres_cdc_source::ensure_slot(bool& created, std::string& snapshot_name,
                                        lsn_t& consistent_point) {
  created = false;
  pg_result r;
  if (auto s =
          sql_.query("SELECT plugin, database, confirmed_flush_lsn::text FROM pg_replication_slots "
                     "WHERE slot_name = $1",
                     {options_.slot}, r);
      !s) {
    return s;
  }
  if (PQntuples(r.get()) > 0) {
    const std::string plugin = PQgetvalue(r.get(), 0, 0);
    if (plugin != "pgoutput") {
      return status::error("slot " + options_.slot + " uses plugin " + plugin + ", not pgoutput");
    }
    const auto flushed = parse_lsn(PQgetvalue(r.get(), 0, 2));
    if (flushed) counters_.confirmed_lsn.store(*flushed);
    slot_seen_ = true;
    return status::ok();
  }
  if (slot_seen_) {
    // Someone dropped the slot: never a silent gap. Mode initial re-reads the tables.
    counters_.slots_lost.fetch_add(1);
    log_line(
        log_level::error, kComponent,
        "slot " + options_.slot + " disappeared after " +
            format_lsn(counters_.confirmed_lsn.load()) + "; re-creating it: " +
            (options_.snapshot == snapshot_mode::never
                 ? std::string(
                       "changes committed while it was missing are NOT captured (snapshot = never)")
                 : std::string("taking a new snapshot (duplicates possible)")));
  }
  slot_seen_ = true;
  const bool export_snapshot = options_.snapshot != snapshot_mode::never;
  if (export_snapshot && !options_.snapshot_marker_path.empty()) {
    // Before the slot exists: a crash from here until the snapshot is durable leaves the marker.
    if (auto s = write_snapshot_marker(options_.snapshot_marker_path, options_.slot); !s) return s;
  }
  const std::string sql = "CREATE_REPLICATION_SLOT " + repl_.quote_identifier(options_.slot) +
                          " LOGICAL pgoutput " +
                          (export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
  pg_result c;
  if (auto s = repl_.exec(sql, PGRES_TUPLES_OK, &c); !s) return s;
  const auto cp = parse_lsn(PQgetvalue(c.get(), 0, 1));
  if (!cp) return status::error("CREATE_REPLICATION_SLOT returned no consistent point");
  consistent_point = *cp;
  if (!PQgetisnull(c.get(), 0, 2)) snapshot_name = PQgetvalue(c.get(), 0, 2);
  created = true;
  counters_.slots_created.fetch_add(1);
  counters_.confirmed_lsn.store(consistent_point);
  log_line(log_level::info, kComponent,
           "created slot " + options_.slot + " at " + format_lsn(consistent_point) +
               (snapshot_name.empty() ? std::string() : ", snapshot " + snapshot_name));
  return status::ok();
}

bool postgres_cdc_source::table_selected(const relation& rel) const {
  if (options_.tables.empty()) return true;
  for (const auto& t : options_.tables) {
    if (t.size() == rel.schema.size() + 1 + rel.name.size() &&
        t.compare(0, rel.schema.size(), rel.schema) == 0 && t[rel.schema.size()] == '.' &&
        t.compare(rel.schema.size() + 1, std::string::npos, rel.name) == 0) {
      return true;
    }
  }
  return false;
}

void postgres_cdc_source::count(std::span<const cdc_event> events) {
  for (const auto& e : events) {
    switch (e.op) {
      case 'c':
        counters_.inserts.fetch_add(1, std::memory_order_relaxed);
        break;
      case 'u':
        counters_.updates.fetch_add(1, std::memory_order_relaxed);
        break;
      case 'd':
        counters_.deletes.fetch_add(1, std::memory_order_relaxed);
        break;
      case 't':
        counters_.truncates.fetch_add(1, std::memory_order_relaxed);
        break;
      case 'r':
        counters_.reads.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        counters_.tombstones.fetch_add(1, std::memory_order_relaxed);
        break;
    }
  }
  counters_.unknown_type_values.store(envelope_.counters().unknown_type_values,
                                      std::memory_order_relaxed);
  counters_.fallback_values.store(envelope_.counters().fallback_values, std::memory_order_relaxed);
}

}  // namespace edgepipe::pgcdc
