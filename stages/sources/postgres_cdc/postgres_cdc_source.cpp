// The replication loop: slot, snapshot, START_REPLICATION, frames -> decoder -> envelope ->
// handler, standby status updates, reconnect with backoff.
#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sources/postgres_cdc/snapshot_marker.hpp"
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe::pgcdc {
namespace {

constexpr std::string_view kComponent = "src:pgcdc";

std::int64_t now_unix_us() { return unix_now_ns() / 1000; }

constexpr const char* kPrimaryKeySql =
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
    "a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::oid AND i.indisprimary "
    "ORDER BY array_position(i.indkey::int2[], a.attnum)";

status load_key_columns(pg_connection& c, std::uint32_t relid, std::vector<std::string>& out) {
  pg_result r;
  if (auto s = c.query(kPrimaryKeySql, {std::to_string(relid)}, r); !s) return s;
  out.clear();
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
  return status::ok();
}

}  // namespace

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

status postgres_cdc_source::redo_cut_snapshot() {
  if (options_.snapshot_marker_path.empty() || options_.snapshot == snapshot_mode::never ||
      marker_pending_ || !snapshot_marker_exists(options_.snapshot_marker_path)) {
    return status::ok();
  }
  pg_result r;
  if (auto s = sql_.query(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = "
          "$1",
          {options_.slot}, r);
      !s) {
    return status::error("slot " + options_.slot +
                         ": the last snapshot was cut short, and dropping the slot to take it "
                         "again failed: " +
                         s.message());
  }
  if (PQntuples(r.get()) == 0) {
    // No slot: its creation failed after the marker was written. Nothing was cut short; the
    // slot and its snapshot are made below as on a first start (the marker is written again).
    log_line(log_level::info, kComponent,
             "slot " + options_.slot + ": " + options_.snapshot_marker_path +
                 " is there but the slot is not (its creation failed): creating it");
    return status::ok();
  }
  counters_.snapshots_redone.fetch_add(1);
  slot_seen_ = false;  // dropped on purpose: not a lost slot
  log_line(log_level::warn, kComponent,
           "slot " + options_.slot + ": the last snapshot did not become durable (" +
               options_.snapshot_marker_path +
               " is there: a crash during the snapshot); slot dropped, taking the snapshot "
               "again (rows already delivered are delivered twice)");
  return status::ok();
}

void postgres_cdc_source::clear_marker_if_durable() {
  if (!marker_pending_ || durable_.load(std::memory_order_relaxed) < marker_lsn_) return;
  if (status s = remove_snapshot_marker(options_.snapshot_marker_path); !s) {
    if (!marker_error_logged_)
      log_line(
          log_level::warn, kComponent,
          s.message() + " (tried again; if it stays, the next start takes the snapshot again)");
    marker_error_logged_ = true;
    return;
  }
  marker_pending_ = false;
  marker_error_logged_ = false;
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

status postgres_cdc_source::take_snapshot(const std::string& snapshot_name,
                                          lsn_t consistent_point) {
  pg_connection snap;
  if (auto s = snap.open(options_.conninfo, options_.password, false, "edgepipe-cdc-snapshot"); !s)
    return s;
  if (auto s = snap.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK); !s)
    return s;
  if (auto s = snap.exec("SET TRANSACTION SNAPSHOT " + snap.quote_literal(snapshot_name),
                         PGRES_COMMAND_OK);
      !s) {
    return s;
  }
  pg_result tables;
  if (auto s = snap.query(
          "SELECT c.oid, n.nspname, c.relname, c.relreplident FROM pg_publication_tables pt "
          "JOIN pg_namespace n ON n.nspname = pt.schemaname JOIN pg_class c ON "
          "c.relnamespace = n.oid AND c.relname = pt.tablename WHERE pt.pubname = $1 "
          "ORDER BY 2, 3",
          {options_.publication}, tables);
      !s) {
    return s;
  }
  change_position pos;
  pos.lsn = consistent_point;
  // The selected tables, in the order of `tables` when given (Debezium snapshots in the order
  // of table.include.list), else by schema and name.
  std::vector<relation> rels;
  std::vector<std::size_t> rank;
  for (int t = 0; t < PQntuples(tables.get()); ++t) {
    relation rel;
    rel.oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(tables.get(), t, 0)));
    rel.schema = PQgetvalue(tables.get(), t, 1);
    rel.name = PQgetvalue(tables.get(), t, 2);
    rel.replica_identity = PQgetvalue(tables.get(), t, 3)[0];
    if (!table_selected(rel)) continue;
    const std::string full = rel.schema + "." + rel.name;
    const auto it = std::find(options_.tables.begin(), options_.tables.end(), full);
    rank.push_back(static_cast<std::size_t>(it - options_.tables.begin()));
    rels.push_back(std::move(rel));
  }
  std::vector<std::size_t> order(rels.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return rank[x] < rank[y]; });

  // source.snapshot needs to know whether a row is the first/last of its table and of the whole
  // snapshot (Debezium's markers), so each row is held until the next one (or the end) is seen.
  struct held_row {
    bool valid = false;
    std::size_t rel = 0;
    bool first_overall = false;
    bool first_in_table = false;
    std::vector<std::string> text;
    std::vector<char> is_null;
  } held;
  std::uint64_t rows = 0;
  std::vector<column_value> row;
  const auto emit_held = [&](bool last_in_table, bool last_overall) -> status {
    const relation& rel = rels[held.rel];
    row.resize(rel.columns.size());
    for (std::size_t c = 0; c < rel.columns.size(); ++c) {
      row[c] = held.is_null[c] != 0 ? column_value{value_kind::null, {}}
                                    : column_value{value_kind::text, held.text[c]};
    }
    pos.snapshot =
        snapshot_marker(held.first_overall, last_overall, held.first_in_table, last_in_table);
    pos.commit_unix_us = pos.now_unix_us = now_unix_us();
    arena_.clear();
    events_.clear();
    if (auto s = envelope_.append_snapshot_row(rel, row, pos, arena_, events_); !s) return s;
    handler_.on_events(arena_, events_);
    count(events_);
    ++rows;
    held.valid = false;
    return status::ok();
  };
  for (const std::size_t ri : order) {
    if (stop_.load(std::memory_order_relaxed)) break;
    relation& rel = rels[ri];
    pg_result cols;
    if (auto s = snap.query(
            "SELECT attname, atttypid, atttypmod FROM pg_attribute WHERE attrelid = $1::oid "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            {std::to_string(rel.oid)}, cols);
        !s) {
      return s;
    }
    for (int c = 0; c < PQntuples(cols.get()); ++c) {
      relation_column col;
      col.name = PQgetvalue(cols.get(), c, 0);
      col.type_oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(cols.get(), c, 1)));
      col.type_modifier = std::stoi(PQgetvalue(cols.get(), c, 2));
      rel.columns.push_back(std::move(col));
    }
    std::vector<std::string> key;
    if (auto s = load_key_columns(snap, rel.oid, key); !s) return s;
    envelope_.set_primary_key(rel.oid, key);
    std::string select = "SELECT ";
    for (std::size_t c = 0; c < rel.columns.size(); ++c) {
      if (c != 0) select += ", ";
      select += snap.quote_identifier(rel.columns[c].name);
    }
    if (rel.columns.empty()) select += "NULL";
    select += " FROM " + snap.quote_identifier(rel.schema) + "." + snap.quote_identifier(rel.name);
    // One row at a time: a big table never sits whole in memory.
    if (PQsendQuery(snap.raw(), select.c_str()) != 1 || PQsetSingleRowMode(snap.raw()) != 1) {
      return status::error("postgres: snapshot query failed: " + snap.error_message());
    }
    bool first_in_table = true;
    for (;;) {
      pg_result r(PQgetResult(snap.raw()));
      if (!r) break;
      const auto st = PQresultStatus(r.get());
      if (st == PGRES_TUPLES_OK) continue;  // end of rows; the next PQgetResult returns null
      if (st != PGRES_SINGLE_TUPLE) {
        return status::error("postgres: snapshot of " + rel.schema + "." + rel.name +
                             " failed: " + snap.error_message());
      }
      if (held.valid) {
        if (auto s = emit_held(held.rel != ri, false); !s) return s;
      }
      held.valid = true;
      held.rel = ri;
      held.first_overall = rows == 0;
      held.first_in_table = first_in_table;
      first_in_table = false;
      held.text.resize(rel.columns.size());
      held.is_null.assign(rel.columns.size(), 0);
      for (std::size_t c = 0; c < rel.columns.size(); ++c) {
        const int ci = static_cast<int>(c);
        if (PQgetisnull(r.get(), 0, ci)) {
          held.is_null[c] = 1;
          held.text[c].clear();
        } else {
          held.text[c].assign(PQgetvalue(r.get(), 0, ci),
                              static_cast<std::size_t>(PQgetlength(r.get(), 0, ci)));
        }
      }
    }
  }
  if (held.valid && !stop_.load(std::memory_order_relaxed)) {
    if (auto s = emit_held(true, true); !s) return s;
  }
  if (stop_.load(std::memory_order_relaxed)) return status::error("stopped during the snapshot");
  if (auto s = snap.exec("COMMIT", PGRES_COMMAND_OK); !s) return s;
  log_line(log_level::info, kComponent,
           "snapshot done: " + std::to_string(rows) + " rows; streaming from " +
               format_lsn(consistent_point));
  handler_.on_snapshot_done(consistent_point);
  return status::ok();
}

status postgres_cdc_source::load_primary_key(std::uint32_t relid) {
  std::vector<std::string> key;
  if (auto s = load_key_columns(sql_, relid, key); !s) return s;
  envelope_.set_primary_key(relid, std::move(key));
  return status::ok();
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

status postgres_cdc_source::send_status(bool reply_requested) {
  lsn_t flush = durable_.load(std::memory_order_relaxed);
  // Idle: everything handed over is durable and no transaction is open, so WAL the server has
  // decoded past (keepalives' end, e.g. other databases' writes) can be released too.
  if (!in_transaction_ && flush >= last_commit_lsn_) flush = std::max(flush, received_);
  flush = std::max(flush, sent_flush_);
  const std::int64_t now_pg = now_unix_us() - pg_epoch_unix_us;
  const auto msg =
      encode_standby_status(std::max(received_, flush), flush, flush, now_pg, reply_requested);
  if (PQputCopyData(repl_.raw(), msg.data(), static_cast<int>(msg.size())) != 1 ||
      PQflush(repl_.raw()) != 0) {
    return status::error("postgres: sending standby status failed: " + repl_.error_message());
  }
  sent_flush_ = flush;
  counters_.confirmed_lsn.store(flush, std::memory_order_relaxed);
  counters_.status_updates.fetch_add(1, std::memory_order_relaxed);
  last_status_mono_ns_ = mono_now_ns();
  return status::ok();
}

status postgres_cdc_source::handle_xlog(const replication_frame& f) {
  decoded_message m;
  if (auto s = decoder_.decode(f.payload, m); !s) return s;
  switch (m.kind) {
    case message_kind::begin:
      in_transaction_ = true;
      xid_ = m.xid;
      resend_filter_.begin(m.final_lsn, m.xid);
      commit_unix_us_ = pg_time_to_unix_us(m.commit_time);
      return status::ok();
    case message_kind::commit:
      in_transaction_ = false;
      last_commit_lsn_ = m.end_lsn;
      sequence_commit_ = m.end_lsn;
      resend_filter_.commit();
      received_ = std::max(received_, m.end_lsn);
      counters_.transactions.fetch_add(1, std::memory_order_relaxed);
      counters_.last_commit_unix_us.store(commit_unix_us_, std::memory_order_relaxed);
      handler_.on_commit(m.end_lsn);
      return status::ok();
    case message_kind::relation:
      counters_.relations.fetch_add(1, std::memory_order_relaxed);
      return load_primary_key(m.rel->oid);
    case message_kind::insert:
    case message_kind::update:
    case message_kind::remove:
    case message_kind::truncate: {
      std::vector<std::uint32_t> kept;
      if (m.kind == message_kind::truncate) {
        for (auto id : m.relids) {
          if (table_selected(*decoder_.find_relation(id))) kept.push_back(id);
        }
        if (kept.empty()) {
          counters_.skipped_tables.fetch_add(1, std::memory_order_relaxed);
          return status::ok();
        }
        m.relids = kept;
      } else if (!table_selected(*m.rel)) {
        counters_.skipped_tables.fetch_add(1, std::memory_order_relaxed);
        return status::ok();
      }
      if (resend_filter_.skip(f.wal_start)) {
        // Sent again after a restart or reconnection; edgepipe holds it already.
        counters_.resent_skipped.fetch_add(1, std::memory_order_relaxed);
        return status::ok();
      }
      change_position pos;
      pos.lsn = f.wal_start;
      // source.sequence[0]: the end of the last commit before this transaction; for the first
      // transaction of a connection, where the stream started (a commit end or the slot's
      // consistent point), so every streamed event names a position (resend_filter.hpp).
      pos.last_commit_lsn = sequence_commit_ != 0 ? sequence_commit_ : stream_start_;
      pos.xid = xid_;
      pos.commit_unix_us = commit_unix_us_;
      pos.now_unix_us = now_unix_us();
      arena_.clear();
      events_.clear();
      if (auto s = envelope_.append_change(m, decoder_, pos, arena_, events_); !s) return s;
      handler_.on_events(arena_, events_);
      count(events_);
      held_ = resume_position{pos.last_commit_lsn, xid_, pos.lsn};
      return status::ok();
    }
    default:
      return status::ok();  // type, origin, logical messages: nothing to emit
  }
}

status postgres_cdc_source::stream(lsn_t start) {
  const std::string sql = "START_REPLICATION SLOT " + repl_.quote_identifier(options_.slot) +
                          " LOGICAL " + format_lsn(start) +
                          " (proto_version '1', publication_names " +
                          repl_.quote_literal(repl_.quote_identifier(options_.publication)) + ")";
  if (auto s = repl_.exec(sql, PGRES_COPY_BOTH); !s) return s;
  counters_.streaming.store(true);
  log_line(log_level::info, kComponent,
           "streaming slot " + options_.slot + " publication " + options_.publication);
  const int fd = PQsocket(repl_.raw());
  last_status_mono_ns_ = mono_now_ns();
  while (!stop_.load(std::memory_order_relaxed)) {
    char* buf = nullptr;
    const int n = PQgetCopyData(repl_.raw(), &buf, 1);
    if (n > 0) {
      replication_frame f;
      status s = decode_frame(std::string_view(buf, static_cast<std::size_t>(n)), f);
      if (s) {
        counters_.server_wal_end.store(f.wal_end, std::memory_order_relaxed);
        if (f.kind == frame_kind::xlog_data) {
          counters_.received_lsn.store(f.wal_start, std::memory_order_relaxed);
          s = handle_xlog(f);
        } else {
          if (!in_transaction_) received_ = std::max(received_, f.wal_end);
          if (f.reply_requested) s = send_status(false);
        }
      }
      PQfreemem(buf);
      if (!s) return s;
    } else if (n == 0) {
      handler_.on_idle();
      pollfd p{fd, POLLIN, 0};
      (void)::poll(&p, 1, 100);
      if (PQconsumeInput(repl_.raw()) != 1) {
        return status::error("postgres: connection lost: " + repl_.error_message());
      }
    } else if (n == -1) {
      pg_result r(PQgetResult(repl_.raw()));
      return status::error("postgres: server ended the replication stream: " +
                           repl_.error_message());
    } else {
      return status::error("postgres: reading the replication stream failed: " +
                           repl_.error_message());
    }
    const std::uint64_t now = mono_now_ns();
    const bool timer = now - last_status_mono_ns_ >= options_.status_interval_ms * 1'000'000;
    clear_marker_if_durable();
    const bool news = durable_.load(std::memory_order_relaxed) > sent_flush_ &&
                      now - last_status_mono_ns_ >= 1'000'000'000;
    if (timer || news) {
      if (auto s = send_status(false); !s) return s;
    }
  }
  // Tell the server how far we got before leaving.
  (void)send_status(false);
  return status::ok();
}

}  // namespace edgepipe::pgcdc
