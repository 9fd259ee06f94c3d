// Turns decoded pgoutput changes (and snapshot rows) into Debezium-compatible change events:
// the value {before, after, source, transaction, op, ts_ms...} in the JSON converter's
// schemaless form, the key (primary key columns as a JSON object) and the topic
// `<prefix>.<schema>.<table>`. Pure; runs on: the postgres_cdc source thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/byte_arena.hpp"
#include "core/status.hpp"
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"
#include "stages/sources/postgres_cdc/pgoutput_decoder.hpp"

namespace edgepipe::pgcdc {

/// Debezium's placeholder for a TOASTed value an update did not change (and did not send).
inline constexpr std::string_view unavailable_value = "__debezium_unavailable_value";

struct envelope_options {
  std::string topic_prefix = "edgepipe";  // Debezium's topic.prefix; also source.name
  std::string database;                   // source.db
  std::string version = "edgepipe-" EDGEPIPE_VERSION;
  decimal_handling decimals = decimal_handling::string;
  bool tombstones = true;  // a null-valued record with the key after each delete
};

/// source.snapshot of a snapshot row, as Debezium 3.6 marks it (SnapshotMarkerResolver): "last"
/// for the last row of the snapshot, "first" for the first, "last_in_data_collection" /
/// "first_in_data_collection" for a table's last / first row, "true" otherwise (in that order
/// of precedence: a snapshot of one row is "last", a table of one row "last_in_...").
std::string_view snapshot_marker(bool first_overall, bool last_overall, bool first_in_table,
                                 bool last_in_table) noexcept;

/// Where a change comes from, for the source block.
struct change_position {
  lsn_t lsn = 0;                        // source.lsn: this change's WAL position
  lsn_t last_commit_lsn = 0;            // source.sequence[0]; 0 = unknown (null)
  std::uint32_t xid = 0;                // source.txId; 0 = null
  std::int64_t commit_unix_us = 0;      // source.ts_ms (commit time; snapshot: read time)
  std::string_view snapshot = "false";  // snapshot rows: snapshot_marker(); streamed: "false"
  std::int64_t now_unix_us = 0;         // the envelope's ts_ms (when edgepipe built it)
};

/// One event written into the caller's arena (offsets into it).
struct cdc_event {
  char op = 0;  // 'c' 'u' 'd' 'r' 't'; 0 = tombstone (null value)
  std::uint32_t topic_off = 0;
  std::uint32_t topic_len = 0;
  std::uint32_t key_off = 0;
  std::uint32_t key_len = 0;  // 0: no key (the table has no primary key)
  std::uint32_t value_off = 0;
  std::uint32_t value_len = 0;  // 0: tombstone
};

struct envelope_counters {
  std::uint64_t unknown_type_values = 0;  // OIDs not in the type table, sent as text
  std::uint64_t fallback_values = 0;      // known type, unparsable text (e.g. 'infinity')
  std::uint64_t unavailable_values = 0;   // unchanged TOAST placeholders written
  std::uint64_t primary_key_changes = 0;  // updates split into delete (+tombstone) + create
};

class debezium_envelope {
 public:
  explicit debezium_envelope(envelope_options options);

  /// The primary key columns of a relation (from the catalog). pgoutput's key flags describe
  /// the replica identity, which under REPLICA IDENTITY FULL is every column; a registered
  /// primary key wins. Without one, the flags are used unless the identity is FULL (then the
  /// events have no key).
  void set_primary_key(std::uint32_t relid, std::vector<std::string> columns);

  /// Appends the events of one Insert/Update/Delete/Truncate message (1 to 3 events; one per
  /// relation for Truncate). Other message kinds append nothing.
  status append_change(const decoded_message& m, const pgoutput_decoder& decoder,
                       const change_position& pos, byte_arena& out, std::vector<cdc_event>& events);

  /// Appends one snapshot read event (op "r") for a row given in text form.
  status append_snapshot_row(const relation& rel, std::span<const column_value> row,
                             const change_position& pos, byte_arena& out,
                             std::vector<cdc_event>& events);

  const envelope_options& options() const noexcept { return options_; }
  const envelope_counters& counters() const noexcept { return counters_; }

 private:
  void compute_key_mask(const relation& rel);
  bool key_changed(std::span<const column_value> old_row,
                   std::span<const column_value> new_row) const;
  void append_topic(const relation& rel, byte_arena& out, cdc_event& e) const;
  void append_key(const relation& rel, std::span<const column_value> row, byte_arena& out,
                  cdc_event& e);
  void append_row(const relation& rel, std::span<const column_value> row,
                  std::span<const column_value> fallback_row, byte_arena& out);
  void append_value(const relation& rel, char op, std::span<const column_value> before,
                    std::span<const column_value> after,
                    std::span<const column_value> after_fallback, const change_position& pos,
                    byte_arena& out, cdc_event& e);
  void emit(const relation& rel, char op, std::span<const column_value> key_row,
            std::span<const column_value> before, std::span<const column_value> after,
            std::span<const column_value> after_fallback, const change_position& pos,
            byte_arena& out, std::vector<cdc_event>& events);

  envelope_options options_;
  envelope_counters counters_;
  std::unordered_map<std::uint32_t, std::vector<std::string>> primary_keys_;
  std::vector<char> key_mask_;  // for the relation being encoded; reused
};

}  // namespace edgepipe::pgcdc
