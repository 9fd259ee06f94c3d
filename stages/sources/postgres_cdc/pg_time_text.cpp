// Dates and times in PostgreSQL's text output under DateStyle=ISO / TimeZone=UTC, which the
// source pins: the parsers (the public parse_pg_timestamp_us; the date and time prefixes that
// parse_pg_date_days, parse_pg_time_us and render_pg_text use), the calendar they need, and the
// two-digit writer of the ISO-8601 rendering (append_iso_utc_us, pg_value_render.hpp).
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

#include <cstdint>
#include <string_view>

#include "stages/sources/postgres_cdc/pg_value_render.hpp"

namespace edgepipe::pgcdc {
namespace render_detail {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
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

}  // namespace

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

void append_2(byte_arena& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

}  // namespace render_detail

using namespace render_detail;  // the parsers above

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

}  // namespace edgepipe::pgcdc
