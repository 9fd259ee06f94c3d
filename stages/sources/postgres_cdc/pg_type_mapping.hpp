// The one table that maps PostgreSQL type OIDs to the JSON form of a column value in a
// Debezium-compatible event (Debezium's defaults: time.precision.mode=adaptive,
// binary.handling.mode=bytes, JSON converter with schemas disabled). docs/cdc.md prints it.
// Pure functions; runs on: the postgres_cdc source thread. No allocation once `out` is warm.
// Defined in pg_type_mapping.cpp (the table, rendering by it) and its parts pg_value_render.hpp,
// pg_time_text.cpp and pg_base64.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe::pgcdc {

enum class decimal_handling : std::uint8_t { string, double_, precise };

/// The config's decimal_handling ("string", "double", "precise"; validated at load) as the enum.
constexpr decimal_handling decimal_handling_named(std::string_view name) noexcept {
  return name == "double"    ? decimal_handling::double_
         : name == "precise" ? decimal_handling::precise
                             : decimal_handling::string;
}

enum class pg_render : std::uint8_t {
  boolean,      // 't'/'f' -> true/false
  integer,      // JSON number as sent
  floating,     // JSON number; NaN/Infinity -> "NaN"/"Infinity"/"-Infinity" strings
  numeric,      // per decimal_handling
  text,         // JSON string of the text form
  date,         // days since 1970-01-01 (int)
  timestamp,    // epoch micros (precision 4-6 or unspecified) or millis (precision 0-3)
  timestamptz,  // ISO-8601 string in UTC, "2026-01-02T03:04:05.123456Z"
  time,         // micros since midnight (precision 4-6/unspecified) or millis (0-3)
  bytea,        // base64 of the bytes
  array,        // JSON array of the element type's renderings
};

struct pg_type_entry {
  std::uint32_t oid;
  std::string_view name;
  pg_render render;
  std::uint32_t element_oid;   // arrays only
  std::string_view json_form;  // for docs/cdc.md
};

/// The type of a rendered value, for `edgepipe schema --table` (envelope_schema.hpp). Derived
/// from the same table and render kind as render_pg_text so the schema cannot drift from it.
enum class value_type : std::uint8_t {
  boolean,
  int32,
  int64,
  float64,  // a JSON number, or "NaN" / "Infinity" / "-Infinity" as strings
  string,
  variable_decimal,  // precise numeric without a declared scale: {"scale": int32, "value": b64}
  array,             // of `element`
};

struct value_schema {
  value_type type = value_type::string;
  value_type element = value_type::string;  // arrays only; elements may be null
};

/// What render_pg_text writes for a column of this type (unknown types: string). Fallback
/// renderings of unparsable text (e.g. 'infinity' dates) are strings and are counted instead.
value_schema value_schema_of(std::uint32_t type_oid, std::int32_t type_modifier,
                             decimal_handling decimals) noexcept;

/// Every type the renderer knows. Others are sent as their text form (a JSON string) and
/// counted as unknown.
std::span<const pg_type_entry> pg_type_table() noexcept;
const pg_type_entry* find_pg_type(std::uint32_t oid) noexcept;

enum class render_result : std::uint8_t {
  ok,
  unknown_type,  // not in the table: written as a JSON string of the text
  fallback,      // known type, text did not parse (e.g. 'infinity' dates): written as a string
};

/// Appends the JSON rendering of one non-null column value given in PostgreSQL's text output
/// format (the form pgoutput v1 and a text-mode SELECT send). The session must use
/// DateStyle=ISO, TimeZone=UTC, IntervalStyle=postgres, bytea_output=hex, extra_float_digits=3
/// (the source sets these in the connection options).
render_result render_pg_text(byte_arena& out, std::uint32_t type_oid, std::int32_t type_modifier,
                             std::string_view text, decimal_handling decimals);

// Parsers used by the renderer, exposed for tests. All return false on anything unexpected.
bool parse_pg_date_days(std::string_view s, std::int64_t& days) noexcept;
/// "YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]" -> Unix micros (offset applied when present).
bool parse_pg_timestamp_us(std::string_view s, std::int64_t& unix_us) noexcept;
bool parse_pg_time_us(std::string_view s, std::int64_t& micros_of_day) noexcept;
/// Appends base64 (RFC 4648, padded) of `bytes`.
void append_base64(byte_arena& out, std::string_view bytes);
/// Debezium's precise decimal: the unscaled value as a big-endian two's complement integer in
/// the fewest bytes, base64; `scale` is the number of fraction digits to scale to (the column's
/// declared scale), or -1 to use the text's own. False for NaN/Infinity or malformed text.
bool append_decimal_base64(byte_arena& out, std::string_view text, int scale, int& used_scale);

}  // namespace edgepipe::pgcdc
