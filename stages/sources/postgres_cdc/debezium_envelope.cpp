// Debezium envelope writer. Field order follows Debezium's own output so a byte-level diff of
// the two is readable: before, after, source, transaction, op, ts_ms, ts_us, ts_ns.
#include "stages/sources/postgres_cdc/debezium_envelope.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "core/kafka_topic_name.hpp"
#include "stages/sources/postgres_cdc/cdc_json.hpp"

namespace edgepipe::pgcdc {
namespace {

std::uint32_t u32(std::size_t v) { return static_cast<std::uint32_t>(v); }

std::int64_t millis_floor(std::int64_t unix_us) {
  return unix_us >= 0 ? unix_us / 1000 : -((-unix_us + 999) / 1000);
}

void append_ts_fields(byte_arena& out, std::int64_t unix_us) {
  out.append("\"ts_ms\":");
  append_int(out, millis_floor(unix_us));
  out.append(",\"ts_us\":");
  append_int(out, unix_us);
  out.append(",\"ts_ns\":");
  append_int(out, unix_us * 1000);
}

void append_lsn_string(byte_arena& out, lsn_t lsn) {
  out.append("\\\"");
  append_int(out, static_cast<std::int64_t>(lsn));
  out.append("\\\"");
}

// Debezium 3.6's placeholder for an unchanged TOAST value depends on the column's type
// (UnchangedToastedPlaceholder): bytes for bytea, a one-element list for text-like and uuid
// arrays, the placeholder's bytes as a list of numbers for int4/int8/date arrays, the string
// otherwise.
void append_unavailable(byte_arena& out, std::uint32_t type_oid) {
  switch (type_oid) {
    case 17:  // bytea: base64 of the placeholder's bytes
      out.push_back('"');
      append_base64(out, unavailable_value);
      out.push_back('"');
      return;
    case 1001:  // _bytea
      out.append("[\"");
      append_base64(out, unavailable_value);
      out.append("\"]");
      return;
    case 1009:  // _text
    case 1015:  // _varchar
    case 1014:  // _bpchar
    case 199:   // _json
    case 3807:  // _jsonb
      out.push_back('[');
      append_json_string(out, unavailable_value);
      out.push_back(']');
      return;
    case 1007:    // _int4
    case 1016:    // _int8
    case 1182: {  // _date
      out.push_back('[');
      for (std::size_t i = 0; i < unavailable_value.size(); ++i) {
        if (i != 0) out.push_back(',');
        append_int(out, static_cast<unsigned char>(unavailable_value[i]));
      }
      out.push_back(']');
      return;
    }
    case 2951:  // _uuid: Java's UUID.nameUUIDFromBytes(placeholder bytes)
      out.append("[\"b68a35a7-17ad-35b3-af2a-ae46edb4545a\"]");
      return;
    default:
      append_json_string(out, unavailable_value);
      return;
  }
}

}  // namespace

std::string_view snapshot_marker(bool first_overall, bool last_overall, bool first_in_table,
                                 bool last_in_table) noexcept {
  if (last_overall) return "last";
  if (first_overall) return "first";
  if (last_in_table) return "last_in_data_collection";
  if (first_in_table) return "first_in_data_collection";
  return "true";
}

debezium_envelope::debezium_envelope(envelope_options options) : options_(std::move(options)) {}

void debezium_envelope::set_primary_key(std::uint32_t relid, std::vector<std::string> columns) {
  primary_keys_[relid] = std::move(columns);
}

void debezium_envelope::compute_key_mask(const relation& rel) {
  key_mask_.assign(rel.columns.size(), 0);
  const auto it = primary_keys_.find(rel.oid);
  if (it != primary_keys_.end()) {
    for (std::size_t i = 0; i < rel.columns.size(); ++i) {
      const auto& names = it->second;
      key_mask_[i] =
          std::find(names.begin(), names.end(), rel.columns[i].name) != names.end() ? 1 : 0;
    }
    return;
  }
  if (rel.replica_identity == 'f') return;  // every column is flagged: not a key
  for (std::size_t i = 0; i < rel.columns.size(); ++i) key_mask_[i] = rel.columns[i].is_key ? 1 : 0;
}

bool debezium_envelope::key_changed(std::span<const column_value> old_row,
                                    std::span<const column_value> new_row) const {
  for (std::size_t i = 0; i < key_mask_.size() && i < old_row.size() && i < new_row.size(); ++i) {
    if (key_mask_[i] == 0) continue;
    if (old_row[i].kind != new_row[i].kind || old_row[i].data != new_row[i].data) return true;
  }
  return false;
}

namespace {

// Kafka allows A-Z a-z 0-9 . _ - in a topic name; PostgreSQL allows any character in a quoted
// identifier ("My Table", "prix€"). Any other byte becomes '_', as Debezium's topic naming
// replaces invalid characters, so the topic exists rather than being refused by the broker for
// every change of the table (the prefix is checked at load).
void append_topic_part(byte_arena& out, std::string_view part) {
  for (const char ch : part) out.push_back(kafka_topic_char(ch) ? ch : '_');
}

}  // namespace

void debezium_envelope::append_topic(const relation& rel, byte_arena& out, cdc_event& e) const {
  e.topic_off = u32(out.size());
  out.append(options_.topic_prefix);
  out.push_back('.');
  append_topic_part(out, rel.schema);
  out.push_back('.');
  append_topic_part(out, rel.name);
  e.topic_len = u32(out.size() - e.topic_off);
}

void debezium_envelope::append_key(const relation& rel, std::span<const column_value> row,
                                   byte_arena& out, cdc_event& e) {
  e.key_off = u32(out.size());
  e.key_len = 0;
  if (std::find(key_mask_.begin(), key_mask_.end(), 1) == key_mask_.end() || row.empty()) return;
  out.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < rel.columns.size() && i < row.size(); ++i) {
    if (key_mask_[i] == 0) continue;
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, rel.columns[i].name);
    out.push_back(':');
    const column_value& v = row[i];
    if (v.kind == value_kind::text) {
      const auto r = render_pg_text(out, rel.columns[i].type_oid, rel.columns[i].type_modifier,
                                    v.data, options_.decimals);
      // Counted once, with the row itself.
      (void)r;
    } else {
      out.append("null");
    }
  }
  out.push_back('}');
  e.key_len = u32(out.size() - e.key_off);
}

void debezium_envelope::append_row(const relation& rel, std::span<const column_value> row,
                                   std::span<const column_value> fallback_row, byte_arena& out) {
  if (row.empty() && !rel.columns.empty()) {
    out.append("null");
    return;
  }
  out.push_back('{');
  for (std::size_t i = 0; i < rel.columns.size(); ++i) {
    if (i != 0) out.push_back(',');
    const relation_column& c = rel.columns[i];
    append_json_string(out, c.name);
    out.push_back(':');
    const column_value* v = &row[i];
    // An unchanged TOAST value whose old value we have (REPLICA IDENTITY FULL) is that value.
    if (v->kind == value_kind::unchanged_toast && i < fallback_row.size() &&
        fallback_row[i].kind == value_kind::text) {
      v = &fallback_row[i];
    }
    switch (v->kind) {
      case value_kind::null:
        out.append("null");
        break;
      case value_kind::unchanged_toast:
        append_unavailable(out, c.type_oid);
        ++counters_.unavailable_values;
        break;
      case value_kind::text: {
        const auto r = render_pg_text(out, c.type_oid, c.type_modifier, v->data, options_.decimals);
        if (r == render_result::unknown_type) ++counters_.unknown_type_values;
        if (r == render_result::fallback) ++counters_.fallback_values;
        break;
      }
      case value_kind::binary:
        // Only with the binary option, which this source never asks for.
        out.push_back('"');
        append_base64(out, v->data);
        out.push_back('"');
        ++counters_.fallback_values;
        break;
    }
  }
  out.push_back('}');
}

void debezium_envelope::append_value(const relation& rel, char op,
                                     std::span<const column_value> before,
                                     std::span<const column_value> after,
                                     std::span<const column_value> after_fallback,
                                     const change_position& pos, byte_arena& out, cdc_event& e) {
  e.value_off = u32(out.size());
  const bool no_rows = op == 't';
  out.append("{\"before\":");
  if (no_rows || before.empty()) {
    out.append("null");
  } else {
    append_row(rel, before, {}, out);
  }
  out.append(",\"after\":");
  if (no_rows || after.empty()) {
    out.append("null");
  } else {
    append_row(rel, after, after_fallback, out);
  }
  // The source block in Debezium 3.6's field order.
  out.append(",\"source\":{\"version\":");
  append_json_string(out, options_.version);
  out.append(",\"connector\":\"postgresql\",\"name\":");
  append_json_string(out, options_.topic_prefix);
  out.append(",\"ts_ms\":");
  append_int(out, millis_floor(pos.commit_unix_us));
  out.append(",\"snapshot\":");
  append_json_string(out, pos.snapshot);
  out.append(",\"db\":");
  append_json_string(out, options_.database);
  out.append(",\"sequence\":\"[");
  if (pos.last_commit_lsn == 0) {
    out.append("null");
  } else {
    append_lsn_string(out, pos.last_commit_lsn);
  }
  out.push_back(',');
  append_lsn_string(out, pos.lsn);
  out.append("]\",\"ts_us\":");
  append_int(out, pos.commit_unix_us);
  out.append(",\"ts_ns\":");
  append_int(out, pos.commit_unix_us * 1000);
  out.append(",\"schema\":");
  append_json_string(out, rel.schema);
  out.append(",\"table\":");
  append_json_string(out, rel.name);
  out.append(",\"txId\":");
  if (pos.xid == 0) {
    out.append("null");
  } else {
    append_int(out, pos.xid);
  }
  out.append(",\"lsn\":");
  append_int(out, static_cast<std::int64_t>(pos.lsn));
  out.append(",\"xmin\":null,\"origin\":null,\"origin_lsn\":null},\"transaction\":null,\"op\":\"");
  out.push_back(op);
  out.append("\",");
  append_ts_fields(out, pos.now_unix_us);
  out.push_back('}');
  e.value_len = u32(out.size() - e.value_off);
}

void debezium_envelope::emit(const relation& rel, char op, std::span<const column_value> key_row,
                             std::span<const column_value> before,
                             std::span<const column_value> after,
                             std::span<const column_value> after_fallback,
                             const change_position& pos, byte_arena& out,
                             std::vector<cdc_event>& events) {
  cdc_event e;
  e.op = op;
  append_topic(rel, out, e);
  append_key(rel, key_row, out, e);
  append_value(rel, op, before, after, after_fallback, pos, out, e);
  events.push_back(e);
  if (op == 'd' && options_.tombstones && e.key_len != 0) {
    cdc_event t = e;  // same topic and key bytes, null value
    t.op = 0;
    t.value_off = u32(out.size());
    t.value_len = 0;
    events.push_back(t);
  }
}

status debezium_envelope::append_change(const decoded_message& m, const pgoutput_decoder& decoder,
                                        const change_position& pos, byte_arena& out,
                                        std::vector<cdc_event>& events) {
  switch (m.kind) {
    case message_kind::insert:
      compute_key_mask(*m.rel);
      emit(*m.rel, 'c', m.new_tuple, {}, m.new_tuple, {}, pos, out, events);
      return status::ok();
    case message_kind::update:
      compute_key_mask(*m.rel);
      if (!m.old_tuple.empty() && key_changed(m.old_tuple, m.new_tuple)) {
        ++counters_.primary_key_changes;
        emit(*m.rel, 'd', m.old_tuple, m.old_tuple, {}, {}, pos, out, events);
        emit(*m.rel, 'c', m.new_tuple, {}, m.new_tuple,
             m.old_kind == 'O' ? m.old_tuple : std::span<const column_value>{}, pos, out, events);
        return status::ok();
      }
      emit(*m.rel, 'u', m.new_tuple, m.old_tuple, m.new_tuple,
           m.old_kind == 'O' ? m.old_tuple : std::span<const column_value>{}, pos, out, events);
      return status::ok();
    case message_kind::remove:
      compute_key_mask(*m.rel);
      emit(*m.rel, 'd', m.old_tuple, m.old_tuple, {}, {}, pos, out, events);
      return status::ok();
    case message_kind::truncate:
      for (const std::uint32_t relid : m.relids) {
        const relation* rel = decoder.find_relation(relid);
        if (rel == nullptr)
          return status::error("truncate of unknown relation " + std::to_string(relid));
        compute_key_mask(*rel);
        cdc_event e;
        e.op = 't';
        append_topic(*rel, out, e);
        e.key_off = u32(out.size());
        e.key_len = 0;
        append_value(*rel, 't', {}, {}, {}, pos, out, e);
        events.push_back(e);
      }
      return status::ok();
    default:
      return status::ok();
  }
}

status debezium_envelope::append_snapshot_row(const relation& rel,
                                              std::span<const column_value> row,
                                              const change_position& pos, byte_arena& out,
                                              std::vector<cdc_event>& events) {
  if (row.size() != rel.columns.size()) {
    return status::error("snapshot row of " + std::to_string(row.size()) + " columns for " +
                         rel.schema + "." + rel.name + " with " +
                         std::to_string(rel.columns.size()));
  }
  compute_key_mask(rel);
  emit(rel, 'r', row, {}, row, {}, pos, out, events);
  return status::ok();
}

}  // namespace edgepipe::pgcdc
