// The postgres_cdc source's initial snapshot: the publication's selected tables read row by row
// in the slot's exported snapshot (a REPEATABLE READ session of its own), each row handed on as a
// Debezium read event with its source.snapshot marker; and the snapshot marker file, which makes
// a start after a snapshot cut short drop the slot and take the snapshot again
// (snapshot_marker.hpp). The class and its threading rules: postgres_cdc_source.hpp.
#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "platform/log.hpp"
#include "stages/sources/postgres_cdc/postgres_cdc_source_internal.hpp"
#include "stages/sources/postgres_cdc/snapshot_marker.hpp"
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe::pgcdc {
using namespace source_detail;  // kComponent, now_unix_us, load_key_columns

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

}  // namespace edgepipe::pgcdc
