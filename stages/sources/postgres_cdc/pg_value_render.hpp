// How each scalar kind of pg_type_mapping's table is written as JSON: the text form (every kind's
// fallback), float and numeric (per decimal_handling), bytea, and dates and times (the ISO-8601
// writer, the column's precision). Private to the type mapping: only its .cpp files include it.
// render_pg_text (pg_type_mapping.cpp) runs these once per column value and inlines them, so they
// are defined inline here. always_inline: those GCC inlined while they were file-local functions
// of pg_type_mapping.cpp (each called once), which it stopped doing when they became inline
// functions of a header. The date and time parsers they call are in pg_time_text.cpp, the base64
// forms in pg_base64.cpp.
// Pure functions; runs on: the postgres_cdc source thread. No allocation once `out` is warm.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/byte_arena.hpp"
#include "stages/sources/postgres_cdc/cdc_json.hpp"
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

namespace edgepipe::pgcdc::render_detail {

inline constexpr std::int64_t kMicrosPerDay = 86'400'000'000;

// pg_time_text.cpp: "YYYY-MM-DD" and "HH:MM:SS[.ffffff]" at the front of `s`, consumed; two digits.
bool parse_date_prefix(std::string_view& s, std::int64_t& days) noexcept;
bool parse_time_prefix(std::string_view& s, std::int64_t& us) noexcept;
void append_2(byte_arena& out, unsigned v);

inline void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
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

// Unix micros -> "2026-01-02T03:04:05.123456Z" with the fraction padded to the column's precision
// (`digits` 0-6; 0 = no fraction), as Debezium's ZonedTimestamp writes it (3.6: a formatter with
// exactly the column's fractional digits; timestamptz without precision = 6).
[[gnu::always_inline]] inline void append_iso_utc_us(byte_arena& out, std::int64_t us, int digits) {
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
inline int fraction_digits(std::int32_t typmod) noexcept {
  return typmod >= 0 && typmod <= 6 ? typmod : 6;
}

inline bool precision_is_millis(std::int32_t typmod) noexcept { return typmod >= 0 && typmod <= 3; }

inline void append_text(byte_arena& out, std::string_view text) { append_json_string(out, text); }

inline bool is_plain_number(std::string_view t) noexcept {
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
inline void append_number_token(byte_arena& out, std::string_view t) {
  if (t[0] == '+') t.remove_prefix(1);
  out.append(t);
}

[[gnu::always_inline]] inline render_result render_floating(byte_arena& out,
                                                            std::string_view text) {
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

inline int numeric_scale(std::int32_t typmod) noexcept {
  // PostgreSQL: typmod = ((precision << 16) | scale) + VARHDRSZ; scale is 11 bits, signed in 16.
  if (typmod < 4) return -1;
  return static_cast<int>(static_cast<std::int16_t>((typmod - 4) & 0xffff));
}

[[gnu::always_inline]] inline render_result render_numeric(byte_arena& out, std::int32_t typmod,
                                                           std::string_view text,
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

inline bool hex_nibble(char c, unsigned& v) noexcept {
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

[[gnu::always_inline]] inline render_result render_bytea(byte_arena& out, std::string_view text) {
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

}  // namespace edgepipe::pgcdc::render_detail
