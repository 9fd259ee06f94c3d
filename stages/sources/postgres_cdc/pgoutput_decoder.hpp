// Pure decoder for PostgreSQL's logical replication stream: the CopyData framing of
// START_REPLICATION (XLogData 'w', primary keepalive 'k', and the standby status update we send)
// and the pgoutput plugin's messages, protocol version 1. No I/O, so it can be fuzzed.
// runs on: the postgres_cdc source thread (one decoder per connection; not thread-safe).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.hpp"

namespace edgepipe::pgcdc {

/// A WAL position (PostgreSQL's XLogRecPtr).
using lsn_t = std::uint64_t;

/// "16/B374D848": PostgreSQL's text form of an LSN.
std::string format_lsn(lsn_t lsn);
std::optional<lsn_t> parse_lsn(std::string_view text) noexcept;

/// PostgreSQL timestamps on the wire count microseconds from 2000-01-01 00:00:00 UTC.
inline constexpr std::int64_t pg_epoch_unix_us = 946'684'800'000'000;
inline std::int64_t pg_time_to_unix_us(std::int64_t pg_us) noexcept {
  return pg_us + pg_epoch_unix_us;
}

// ------------------------------------------------------------------ replication stream framing

enum class frame_kind : std::uint8_t { xlog_data, keepalive };

struct replication_frame {
  frame_kind kind = frame_kind::keepalive;
  lsn_t wal_start = 0;           // xlog_data: where `payload` starts in the WAL
  lsn_t wal_end = 0;             // the server's current end of WAL
  std::int64_t send_time = 0;    // server clock, PostgreSQL epoch microseconds
  bool reply_requested = false;  // keepalive: the server wants a standby status update now
  std::string_view payload;      // xlog_data: one pgoutput message (a view into the input)
};

/// Decodes one CopyData message of the replication stream. `out.payload` views `copy_data`.
status decode_frame(std::string_view copy_data, replication_frame& out);

/// Standby status update ('r'): 34 bytes to send as CopyData. LSNs are "received up to",
/// "durable up to" (what PostgreSQL may release) and "applied up to".
inline constexpr std::size_t standby_status_size = 34;
std::array<char, standby_status_size> encode_standby_status(lsn_t written, lsn_t flushed,
                                                            lsn_t applied,
                                                            std::int64_t client_time_pg_us,
                                                            bool reply_requested) noexcept;

// ---------------------------------------------------------------------------- pgoutput messages

struct relation_column {
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
  bool is_key = false;  // part of the replica identity (the primary key by default)
};

/// What a Relation message says about a table; cached by the decoder until replaced.
struct relation {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // d default (pk), n nothing, f full, i index
  std::vector<relation_column> columns;
};

enum class value_kind : std::uint8_t {
  null,             // 'n'
  unchanged_toast,  // 'u': a TOASTed value the update did not touch; the value is not sent
  text,             // 't': the type's text output
  binary,           // 'b': binary send format (only when the binary option is on; v1 never)
};

struct column_value {
  value_kind kind = value_kind::null;
  std::string_view data;  // text/binary bytes, a view into the decoded message
};

enum class message_kind : std::uint8_t {
  begin,
  commit,
  origin,
  relation,
  type,
  insert,
  update,
  remove,  // Delete
  truncate,
  message,  // logical decoding message ('M'), only when requested; decoded and skipped
};

/// One decoded pgoutput message. Views (strings, tuples, relids) point into the input bytes or
/// into the decoder's reused buffers: valid until the next decode call on the same decoder.
struct decoded_message {
  message_kind kind = message_kind::begin;
  // begin: final_lsn, commit_time, xid.  commit: flags, commit_lsn, end_lsn, commit_time.
  lsn_t final_lsn = 0;
  lsn_t commit_lsn = 0;
  lsn_t end_lsn = 0;
  std::int64_t commit_time = 0;  // PostgreSQL epoch microseconds
  std::uint32_t xid = 0;
  std::uint8_t flags = 0;  // commit flags; truncate options (1 cascade, 2 restart identity)
  // origin: origin_lsn + name; type: type_oid + schema/name; message: prefix + content
  lsn_t origin_lsn = 0;
  std::string_view name;
  std::string_view schema;
  std::uint32_t type_oid = 0;
  std::string_view content;
  // relation / insert / update / delete: the (cached) relation
  const relation* rel = nullptr;
  // update/delete: 'K' (old key columns only), 'O' (old full row, REPLICA IDENTITY FULL) or 0
  char old_kind = 0;
  std::span<const column_value> old_tuple;
  std::span<const column_value> new_tuple;  // insert / update
  std::span<const std::uint32_t> relids;    // truncate
};

class pgoutput_decoder {
 public:
  /// Decodes one pgoutput message (the payload of an XLogData frame).
  status decode(std::string_view message, decoded_message& out);

  const relation* find_relation(std::uint32_t oid) const noexcept;
  /// The name a Type message gave a non-builtin type OID ("schema.name"), or empty.
  std::string_view type_name(std::uint32_t oid) const noexcept;
  /// Forgets relations and types (a new connection resends them before use).
  void reset();
  std::size_t relation_count() const noexcept { return relations_.size(); }

 private:
  std::unordered_map<std::uint32_t, relation> relations_;
  std::unordered_map<std::uint32_t, std::string> types_;
  std::vector<column_value> old_buf_;
  std::vector<column_value> new_buf_;
  std::vector<std::uint32_t> relid_buf_;
};

}  // namespace edgepipe::pgcdc
