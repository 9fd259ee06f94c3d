// PostgreSQL text output -> Debezium-style JSON values. Parsing follows the server's output
// functions under DateStyle=ISO / TimeZone=UTC / bytea_output=hex, which the source pins.
// Here: the type table, the schema it implies (value_schema_of) and render_pg_text, which renders
// each value by its type's render kind; arrays too, as their elements go back through it. The
// other kinds' renderers are inline in pg_value_render.hpp (render_pg_text inlines them), the
// date and time parsers in pg_time_text.cpp, the base64 forms in pg_base64.cpp.
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

#include <charconv>
#include <string>

#include "stages/sources/postgres_cdc/pg_value_render.hpp"

namespace edgepipe::pgcdc {
using namespace render_detail;  // the renderers of each kind (pg_value_render.hpp)

namespace {

// clang-format off
constexpr pg_type_entry kTable[] = {
    {16,   "bool",        pg_render::boolean,     0,    "true / false"},
    {20,   "int8",        pg_render::integer,     0,    "number"},
    {21,   "int2",        pg_render::integer,     0,    "number"},
    {23,   "int4",        pg_render::integer,     0,    "number"},
    {26,   "oid",         pg_render::integer,     0,    "number"},
    {700,  "float4",      pg_render::floating,    0,    "number (NaN, Infinity as strings)"},
    {701,  "float8",      pg_render::floating,    0,    "number (NaN, Infinity as strings)"},
    {1700, "numeric",     pg_render::numeric,     0,    "per decimal_handling: string \"12.50\" (NaN/Infinity/-Infinity: \"NAN\"/\"POSITIVE_INFINITY\"/\"NEGATIVE_INFINITY\") / double 12.5 / precise (base64 unscaled; {scale,value} when the column has no scale)"},
    {18,   "char",        pg_render::text,        0,    "string"},
    {19,   "name",        pg_render::text,        0,    "string"},
    {25,   "text",        pg_render::text,        0,    "string"},
    {1042, "bpchar",      pg_render::text,        0,    "string (blank-padded as stored)"},
    {1043, "varchar",     pg_render::text,        0,    "string"},
    {2950, "uuid",        pg_render::text,        0,    "string"},
    {114,  "json",        pg_render::text,        0,    "string (the JSON text)"},
    {3802, "jsonb",       pg_render::text,        0,    "string (the JSON text)"},
    {142,  "xml",         pg_render::text,        0,    "string"},
    {869,  "inet",        pg_render::text,        0,    "string"},
    {650,  "cidr",        pg_render::text,        0,    "string"},
    {829,  "macaddr",     pg_render::text,        0,    "string"},
    {1082, "date",        pg_render::date,        0,    "number: days since 1970-01-01"},
    {1114, "timestamp",   pg_render::timestamp,   0,    "number: epoch microseconds (epoch milliseconds for precision 0-3)"},
    {1184, "timestamptz", pg_render::timestamptz, 0,    "string: ISO-8601 in UTC, fraction to the column's precision (6 if undeclared): \"2026-01-02T03:04:05.120000Z\""},
    {1083, "time",        pg_render::time,        0,    "number: microseconds since midnight (milliseconds for precision 0-3)"},
    {17,   "bytea",       pg_render::bytea,       0,    "string: base64 of the bytes"},
    {1000, "_bool",       pg_render::array,       16,   "array of the element rendering"},
    {1005, "_int2",       pg_render::array,       21,   "array of the element rendering"},
    {1007, "_int4",       pg_render::array,       23,   "array of the element rendering"},
    {1016, "_int8",       pg_render::array,       20,   "array of the element rendering"},
    {1021, "_float4",     pg_render::array,       700,  "array of the element rendering"},
    {1022, "_float8",     pg_render::array,       701,  "array of the element rendering"},
    {1231, "_numeric",    pg_render::array,       1700, "array of the element rendering"},
    {1009, "_text",       pg_render::array,       25,   "array of the element rendering"},
    {1014, "_bpchar",     pg_render::array,       1042, "array of the element rendering"},
    {1015, "_varchar",    pg_render::array,       1043, "array of the element rendering"},
    {2951, "_uuid",       pg_render::array,       2950, "array of the element rendering"},
    {199,  "_json",       pg_render::array,       114,  "array of the element rendering"},
    {3807, "_jsonb",      pg_render::array,       3802, "array of the element rendering"},
    {1182, "_date",       pg_render::array,       1082, "array of the element rendering"},
    {1115, "_timestamp",  pg_render::array,       1114, "array of the element rendering"},
    {1185, "_timestamptz", pg_render::array,      1184, "array of the element rendering"},
};
// clang-format on

// PostgreSQL array literal -> JSON array (nested braces -> nested arrays). Elements are
// unquoted/unescaped and rendered as `element_oid`.
render_result render_array(byte_arena& out, std::uint32_t element_oid, std::int32_t typmod,
                           std::string_view text, decimal_handling mode) {
  const std::size_t mark = out.size();
  auto fail = [&]() {
    out.truncate(mark);
    append_text(out, text);
    return render_result::fallback;
  };
  if (text.empty() || text[0] != '{') return fail();  // "[1:2]={..}" bounds: sent as text
  thread_local std::string elem;
  render_result worst = render_result::ok;
  std::size_t i = 0;
  int depth = 0;
  bool expect_value = true;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '{') {
      if (!expect_value) return fail();
      out.push_back('[');
      ++depth;
      ++i;
      continue;
    }
    if (c == '}') {
      // "{}" is an empty array; "{1,}" is malformed.
      if (depth == 0 || (expect_value && text[i - 1] != '{')) return fail();
      out.push_back(']');
      --depth;
      ++i;
      expect_value = false;
      if (depth == 0) break;
      continue;
    }
    if (c == ',') {
      if (expect_value) return fail();
      out.push_back(',');
      ++i;
      expect_value = true;
      continue;
    }
    if (!expect_value) return fail();
    elem.clear();
    bool quoted = false;
    if (c == '"') {
      quoted = true;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char e = text[i++];
        if (e == '\\') {
          if (i >= text.size()) return fail();
          elem.push_back(text[i++]);
        } else if (e == '"') {
          closed = true;
          break;
        } else {
          elem.push_back(e);
        }
      }
      if (!closed) return fail();
    } else {
      while (i < text.size() && text[i] != ',' && text[i] != '}') elem.push_back(text[i++]);
    }
    if (!quoted && (elem == "NULL" || elem == "null")) {
      out.append("null");
    } else {
      const auto r = render_pg_text(out, element_oid, typmod, elem, mode);
      if (r != render_result::ok) worst = r;
    }
    expect_value = false;
  }
  if (depth != 0 || i != text.size()) return fail();
  // Empty array "{}" -> [] handled above (expect_value stays true; nothing written between).
  return worst;
}

}  // namespace

std::span<const pg_type_entry> pg_type_table() noexcept { return kTable; }

const pg_type_entry* find_pg_type(std::uint32_t oid) noexcept {
  for (const auto& e : kTable) {
    if (e.oid == oid) return &e;
  }
  return nullptr;
}

value_schema value_schema_of(std::uint32_t type_oid, std::int32_t type_modifier,
                             decimal_handling decimals) noexcept {
  const pg_type_entry* t = find_pg_type(type_oid);
  if (t == nullptr) return {value_type::string};
  switch (t->render) {
    case pg_render::boolean:
      return {value_type::boolean};
    case pg_render::integer:
      return {t->oid == 21 || t->oid == 23 ? value_type::int32 : value_type::int64};
    case pg_render::floating:
      return {value_type::float64};
    case pg_render::numeric:
      if (decimals == decimal_handling::double_) return {value_type::float64};
      if (decimals == decimal_handling::precise && numeric_scale(type_modifier) < 0)
        return {value_type::variable_decimal};
      return {value_type::string};  // string mode, or precise with a scale: base64 unscaled
    case pg_render::date:
      return {value_type::int32};
    case pg_render::timestamp:
    case pg_render::time:
      return {value_type::int64};
    case pg_render::text:
    case pg_render::timestamptz:
    case pg_render::bytea:
      return {value_type::string};
    case pg_render::array:
      return {value_type::array, value_schema_of(t->element_oid, type_modifier, decimals).type};
  }
  return {value_type::string};
}

// parse_pg_date_days and parse_pg_time_us are here, beside render_pg_text, which inlines them (the
// parsers they call are in pg_time_text.cpp, with parse_pg_timestamp_us).
bool parse_pg_date_days(std::string_view s, std::int64_t& days) noexcept {
  return parse_date_prefix(s, days) && s.empty();
}

bool parse_pg_time_us(std::string_view s, std::int64_t& micros_of_day) noexcept {
  return parse_time_prefix(s, micros_of_day) && s.empty();
}

render_result render_pg_text(byte_arena& out, std::uint32_t type_oid, std::int32_t type_modifier,
                             std::string_view text, decimal_handling decimals) {
  const pg_type_entry* t = find_pg_type(type_oid);
  if (t == nullptr) {
    append_text(out, text);
    return render_result::unknown_type;
  }
  switch (t->render) {
    case pg_render::boolean:
      if (text == "t" || text == "f") {
        out.append(text == "t" ? std::string_view("true") : std::string_view("false"));
        return render_result::ok;
      }
      append_text(out, text);
      return render_result::fallback;
    case pg_render::integer: {
      std::int64_t v = 0;
      const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc{} || r.ptr != text.data() + text.size()) {
        append_text(out, text);
        return render_result::fallback;
      }
      append_int(out, v);
      return render_result::ok;
    }
    case pg_render::floating:
      return render_floating(out, text);
    case pg_render::numeric:
      return render_numeric(out, type_modifier, text, decimals);
    case pg_render::text:
      append_text(out, text);
      return render_result::ok;
    case pg_render::date: {
      std::int64_t days = 0;
      if (!parse_pg_date_days(text, days)) {
        append_text(out, text);
        return render_result::fallback;
      }
      append_int(out, days);
      return render_result::ok;
    }
    case pg_render::timestamp:
    case pg_render::timestamptz: {
      std::int64_t us = 0;
      if (!parse_pg_timestamp_us(text, us)) {
        append_text(out, text);
        return render_result::fallback;
      }
      if (t->render == pg_render::timestamptz) {
        append_iso_utc_us(out, us, fraction_digits(type_modifier));
      } else if (precision_is_millis(type_modifier)) {
        append_int(out, us >= 0 ? us / 1000 : -((-us + 999) / 1000));
      } else {
        append_int(out, us);
      }
      return render_result::ok;
    }
    case pg_render::time: {
      std::int64_t us = 0;
      if (!parse_pg_time_us(text, us)) {
        append_text(out, text);
        return render_result::fallback;
      }
      append_int(out, precision_is_millis(type_modifier) ? us / 1000 : us);
      return render_result::ok;
    }
    case pg_render::bytea:
      return render_bytea(out, text);
    case pg_render::array:
      return render_array(out, t->element_oid, type_modifier, text, decimals);
  }
  append_text(out, text);
  return render_result::fallback;
}

}  // namespace edgepipe::pgcdc
