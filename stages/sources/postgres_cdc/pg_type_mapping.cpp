// PostgreSQL text output -> Debezium-style JSON values. Parsing follows the server's output
// functions under DateStyle=ISO / TimeZone=UTC / bytea_output=hex, which the source pins.
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>

#include "stages/sources/postgres_cdc/cdc_json.hpp"

namespace edgepipe::pgcdc {
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

constexpr std::int64_t kMicrosPerDay = 86'400'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

// Reads exactly `n` digits.
bool digits(std::string_view& s, std::size_t n, unsigned& v) noexcept {
  if (s.size() < n) return false;
  unsigned r = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    r = r * 10 + static_cast<unsigned>(c - '0');
  }
  v = r;
  s.remove_prefix(n);
  return true;
}

bool expect(std::string_view& s, char c) noexcept {
  if (s.empty() || s[0] != c) return false;
  s.remove_prefix(1);
  return true;
}

// "YYYY-MM-DD" where the year has 4 or more digits (PostgreSQL prints 5+ digit years as is).
bool parse_date_prefix(std::string_view& s, std::int64_t& days) noexcept {
  std::size_t ylen = 0;
  while (ylen < s.size() && s[ylen] >= '0' && s[ylen] <= '9') ++ylen;
  if (ylen < 4 || ylen > 7) return false;
  unsigned y = 0;
  unsigned mo = 0;
  unsigned d = 0;
  if (!digits(s, ylen, y) || !expect(s, '-') || !digits(s, 2, mo) || !expect(s, '-') ||
      !digits(s, 2, d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  days = days_from_civil(y, mo, d);
  return true;
}

// "HH:MM:SS[.ffffff]" -> micros of day (24:00:00 allowed, as PostgreSQL allows it).
bool parse_time_prefix(std::string_view& s, std::int64_t& us) noexcept {
  unsigned h = 0;
  unsigned mi = 0;
  unsigned se = 0;
  if (!digits(s, 2, h) || !expect(s, ':') || !digits(s, 2, mi) || !expect(s, ':') ||
      !digits(s, 2, se)) {
    return false;
  }
  if (h > 24 || mi > 59 || se > 60) return false;
  std::int64_t frac = 0;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
      if (n < 6) frac = frac * 10 + (s[n] - '0');
      ++n;
    }
    if (n == 0) return false;
    for (std::size_t k = n; k < 6; ++k) frac *= 10;
    s.remove_prefix(n);
  }
  us = ((static_cast<std::int64_t>(h) * 60 + mi) * 60 + se) * 1'000'000 + frac;
  return true;
}

// "+HH[:MM[:SS]]" / "-HH..." -> seconds east of UTC.
bool parse_offset(std::string_view& s, std::int64_t& seconds) noexcept {
  if (s.empty() || (s[0] != '+' && s[0] != '-')) return false;
  const bool neg = s[0] == '-';
  s.remove_prefix(1);
  unsigned h = 0;
  unsigned m = 0;
  unsigned sec = 0;
  if (!digits(s, 2, h)) return false;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    if (!digits(s, 2, m)) return false;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!digits(s, 2, sec)) return false;
    }
  }
  const std::int64_t v = (static_cast<std::int64_t>(h) * 60 + m) * 60 + sec;
  seconds = neg ? -v : v;
  return true;
}

void append_2(byte_arena& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// Unix micros -> "2026-01-02T03:04:05.123456Z" with the fraction padded to the column's precision
// (`digits` 0-6; 0 = no fraction), as Debezium's ZonedTimestamp writes it (3.6: a formatter with
// exactly the column's fractional digits; timestamptz without precision = 6).
void append_iso_utc_us(byte_arena& out, std::int64_t us, int digits) {
  std::int64_t days = us / kMicrosPerDay;
  std::int64_t rem = us % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  out.push_back('"');
  if (y >= 0 && y <= 9999) {
    const auto yy = static_cast<unsigned>(y);
    append_2(out, yy / 100);
    append_2(out, yy % 100);
  } else {
    append_int(out, y);
  }
  out.push_back('-');
  append_2(out, m);
  out.push_back('-');
  append_2(out, d);
  out.push_back('T');
  const auto secs = static_cast<unsigned>(rem / 1'000'000);
  auto frac = static_cast<unsigned>(rem % 1'000'000);
  append_2(out, secs / 3600);
  out.push_back(':');
  append_2(out, secs / 60 % 60);
  out.push_back(':');
  append_2(out, secs % 60);
  if (digits > 0) {
    char buf[6];
    for (int i = 5; i >= 0; --i) {
      buf[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    out.push_back('.');
    out.append(buf, static_cast<std::size_t>(std::min(digits, 6)));
  }
  out.append("Z\"");
}

// Fractional digits of a timestamptz/time column: its declared precision, 6 when undeclared.
int fraction_digits(std::int32_t typmod) noexcept {
  return typmod >= 0 && typmod <= 6 ? typmod : 6;
}

bool precision_is_millis(std::int32_t typmod) noexcept { return typmod >= 0 && typmod <= 3; }

void append_text(byte_arena& out, std::string_view text) { append_json_string(out, text); }

bool is_plain_number(std::string_view t) noexcept {
  if (t.empty()) return false;
  std::size_t i = t[0] == '-' || t[0] == '+' ? 1 : 0;
  bool any = false;
  bool dot = false;
  bool exp = false;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (c >= '0' && c <= '9') {
      any = true;
    } else if (c == '.' && !dot && !exp) {
      dot = true;
    } else if ((c == 'e' || c == 'E') && any && !exp) {
      exp = true;
      any = false;
      if (i + 1 < t.size() && (t[i + 1] == '+' || t[i + 1] == '-')) ++i;
    } else {
      return false;
    }
  }
  return any;
}

// A JSON number must not start with '+', '.' or have a leading "-.": normalise the few forms
// PostgreSQL's float output can take ("1e+30", "-0", "0.5" are fine as they are).
void append_number_token(byte_arena& out, std::string_view t) {
  if (t[0] == '+') t.remove_prefix(1);
  out.append(t);
}

render_result render_floating(byte_arena& out, std::string_view text) {
  if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
    append_text(out, text);
    return render_result::ok;
  }
  if (!is_plain_number(text)) {
    append_text(out, text);
    return render_result::fallback;
  }
  append_number_token(out, text);
  return render_result::ok;
}

int numeric_scale(std::int32_t typmod) noexcept {
  // PostgreSQL: typmod = ((precision << 16) | scale) + VARHDRSZ; scale is 11 bits, signed in 16.
  if (typmod < 4) return -1;
  return static_cast<int>(static_cast<std::int16_t>((typmod - 4) & 0xffff));
}

render_result render_numeric(byte_arena& out, std::int32_t typmod, std::string_view text,
                             decimal_handling mode) {
  const bool special = text == "NaN" || text == "Infinity" || text == "-Infinity";
  switch (mode) {
    case decimal_handling::string:
      // Debezium writes its SpecialValueDecimal names for the three special values.
      if (special) {
        append_text(out, text == "NaN"        ? std::string_view("NAN")
                         : text == "Infinity" ? std::string_view("POSITIVE_INFINITY")
                                              : std::string_view("NEGATIVE_INFINITY"));
        return render_result::ok;
      }
      append_text(out, text);
      return render_result::ok;
    case decimal_handling::double_: {
      if (special) {
        append_text(out, text);
        return render_result::ok;
      }
      const auto v = parse_double(text);
      if (!v) {
        append_text(out, text);
        return render_result::fallback;
      }
      append_double(out, *v);
      return render_result::ok;
    }
    case decimal_handling::precise: {
      const int scale = numeric_scale(typmod);
      if (special) {
        append_text(out, text);
        return render_result::fallback;
      }
      const std::size_t mark = out.size();
      int used = 0;
      if (scale >= 0) {
        if (!append_decimal_base64(out, text, scale, used)) {
          out.truncate(mark);
          append_text(out, text);
          return render_result::fallback;
        }
        return render_result::ok;
      }
      // No declared scale: Debezium's VariableScaleDecimal struct.
      out.append("{\"scale\":");
      const std::size_t scale_at = out.size();
      out.append("000000,\"value\":");  // patched below once the scale is known
      if (!append_decimal_base64(out, text, -1, used)) {
        out.truncate(mark);
        append_text(out, text);
        return render_result::fallback;
      }
      out.push_back('}');
      // Rewrite "{"scale":000000,..." with the real scale (right-aligned digits, no padding):
      // shift the tail left over the unused placeholder characters.
      char sbuf[8];
      const auto r = std::to_chars(sbuf, sbuf + sizeof sbuf, used);
      const auto slen = static_cast<std::size_t>(r.ptr - sbuf);
      char* base = out.data();
      std::memcpy(base + scale_at, sbuf, slen);
      std::memmove(base + scale_at + slen, base + scale_at + 6, out.size() - (scale_at + 6));
      out.truncate(out.size() - (6 - slen));
      return render_result::ok;
    }
  }
  return render_result::fallback;
}

bool hex_nibble(char c, unsigned& v) noexcept {
  if (c >= '0' && c <= '9') {
    v = static_cast<unsigned>(c - '0');
  } else if (c >= 'a' && c <= 'f') {
    v = static_cast<unsigned>(c - 'a' + 10);
  } else if (c >= 'A' && c <= 'F') {
    v = static_cast<unsigned>(c - 'A' + 10);
  } else {
    return false;
  }
  return true;
}

render_result render_bytea(byte_arena& out, std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    append_text(out, text);
    return render_result::fallback;
  }
  thread_local std::string raw;
  raw.clear();
  for (std::size_t i = 2; i < text.size(); i += 2) {
    unsigned hi = 0;
    unsigned lo = 0;
    if (!hex_nibble(text[i], hi) || !hex_nibble(text[i + 1], lo)) {
      append_text(out, text);
      return render_result::fallback;
    }
    raw.push_back(static_cast<char>(hi << 4 | lo));
  }
  out.push_back('"');
  append_base64(out, raw);
  out.push_back('"');
  return render_result::ok;
}

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

bool parse_pg_date_days(std::string_view s, std::int64_t& days) noexcept {
  return parse_date_prefix(s, days) && s.empty();
}

bool parse_pg_timestamp_us(std::string_view s, std::int64_t& unix_us) noexcept {
  std::int64_t days = 0;
  std::int64_t tod = 0;
  if (!parse_date_prefix(s, days) || !expect(s, ' ') || !parse_time_prefix(s, tod)) return false;
  std::int64_t offset = 0;
  if (!s.empty() && !parse_offset(s, offset)) return false;
  if (!s.empty()) return false;  // " BC" and anything else
  unix_us = days * kMicrosPerDay + tod - offset * 1'000'000;
  return true;
}

bool parse_pg_time_us(std::string_view s, std::int64_t& micros_of_day) noexcept {
  return parse_time_prefix(s, micros_of_day) && s.empty();
}

void append_base64(byte_arena& out, std::string_view bytes) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  char* w = out.prepare((n + 2) / 3 * 4);
  char* start = w;
  while (n >= 3) {
    const unsigned v = static_cast<unsigned>(p[0]) << 16 | static_cast<unsigned>(p[1]) << 8 | p[2];
    *w++ = tbl[v >> 18];
    *w++ = tbl[(v >> 12) & 63];
    *w++ = tbl[(v >> 6) & 63];
    *w++ = tbl[v & 63];
    p += 3;
    n -= 3;
  }
  if (n > 0) {
    unsigned v = static_cast<unsigned>(p[0]) << 16;
    if (n == 2) v |= static_cast<unsigned>(p[1]) << 8;
    *w++ = tbl[v >> 18];
    *w++ = tbl[(v >> 12) & 63];
    *w++ = n == 2 ? tbl[(v >> 6) & 63] : '=';
    *w++ = '=';
  }
  out.commit(static_cast<std::size_t>(w - start));
}

bool append_decimal_base64(byte_arena& out, std::string_view text, int scale, int& used_scale) {
  bool neg = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    neg = text[0] == '-';
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  const std::string_view ip = text.substr(0, dot);
  const std::string_view fp =
      dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (ip.empty() && fp.empty()) return false;
  const auto all_digits = [](std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(ip) || !all_digits(fp)) return false;
  const int fdigits = static_cast<int>(fp.size());
  used_scale = scale < 0 ? fdigits : scale;
  if (fdigits > used_scale) return false;  // the server never prints more than the column scale
  // Unscaled magnitude as a little-endian base-256 number, built digit by digit.
  thread_local std::string mag;
  mag.clear();
  auto add_digit = [](unsigned dgt) {
    unsigned carry = dgt;
    for (char& b : mag) {
      const unsigned v = static_cast<unsigned char>(b) * 10u + carry;
      b = static_cast<char>(v & 0xff);
      carry = v >> 8;
    }
    while (carry != 0) {
      mag.push_back(static_cast<char>(carry & 0xff));
      carry >>= 8;
    }
  };
  for (char c : ip) add_digit(static_cast<unsigned>(c - '0'));
  for (char c : fp) add_digit(static_cast<unsigned>(c - '0'));
  for (int k = fdigits; k < used_scale; ++k) add_digit(0);
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  // Two's complement, big-endian, fewest bytes (Java's BigInteger.toByteArray()).
  if (neg && !mag.empty()) {
    unsigned carry = 1;
    for (char& b : mag) {
      const unsigned v = (~static_cast<unsigned>(static_cast<unsigned char>(b)) & 0xffu) + carry;
      b = static_cast<char>(v & 0xff);
      carry = v >> 8;
    }
    if ((static_cast<unsigned char>(mag.back()) & 0x80) == 0)
      mag.push_back(static_cast<char>(0xff));
    while (mag.size() > 1 && static_cast<unsigned char>(mag.back()) == 0xff &&
           (static_cast<unsigned char>(mag[mag.size() - 2]) & 0x80) != 0) {
      mag.pop_back();
    }
  } else {
    if (mag.empty() || (static_cast<unsigned char>(mag.back()) & 0x80) != 0) mag.push_back('\0');
  }
  std::reverse(mag.begin(), mag.end());
  out.push_back('"');
  append_base64(out, mag);
  out.push_back('"');
  return true;
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
