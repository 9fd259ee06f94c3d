#include "stages/transform/iso8601.hpp"

#include <cstring>

#include "platform/trim.hpp"
#include "stages/transform/json_numbers.hpp"  // detail::load_word

namespace edgepipe {

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

/// The common exact form "YYYY-MM-DDTHH:MM:SS.mmmZ" (what the APIs send), checked and read a
/// word at a time. nullopt for anything else, which then takes the general parser.
bool parse_iso8601_ms_exact(std::string_view s, std::int64_t& out) noexcept {
  // A bool and an out parameter, not std::optional: the optional came back through the stack
  // as one 16-byte store read as two 8-byte loads (a store-forwarding stall per call).
  if (s.size() != 24) return false;
  // Three word loads straight into registers (a memcpy into a stack array, read back a word at
  // a time, stalls on store forwarding).
  std::uint64_t w[3] = {detail::load_word(s.data()), detail::load_word(s.data() + 8),
                        detail::load_word(s.data() + 16)};
  // Separators where they belong ("YYYY-MM-" "DDTHH:MM" ":SS.mmmZ"), digits everywhere else.
  constexpr std::uint64_t sep_mask[3] = {0xff0000ff00000000ull, 0x0000ff0000ff0000ull,
                                         0xff000000ff0000ffull};
  constexpr std::uint64_t sep_value[3] = {0x2d00002d00000000ull, 0x00003a0000540000ull,
                                          0x5a0000002e00003aull};
  constexpr std::uint64_t k30 = 0x3030303030303030ull, k76 = 0x7676767676767676ull;
  std::uint64_t wrong = 0;
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t x = w[i] ^ k30;
    const std::uint64_t non_digit = ((x + k76) | x) & 0x8080808080808080ull;
    wrong |= ((w[i] ^ sep_value[i]) & sep_mask[i]) | (non_digit & ~sep_mask[i]);
    w[i] = x;  // digits as 0..9
  }
  if (wrong != 0) return false;
  auto b = [&w](int i) { return static_cast<unsigned>((w[i / 8] >> (8 * (i % 8))) & 0xff); };
  const unsigned y = b(0) * 1000 + b(1) * 100 + b(2) * 10 + b(3);
  const unsigned mo = b(5) * 10 + b(6), d = b(8) * 10 + b(9), h = b(11) * 10 + b(12);
  const unsigned mi = b(14) * 10 + b(15), sec = b(17) * 10 + b(18);
  const unsigned ms = b(20) * 100 + b(21) * 10 + b(22);
  if (y == 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  // days_from_civil in unsigned arithmetic (year >= 1): divisions by constants, no idiv.
  const unsigned yy = y - (mo <= 2 ? 1u : 0u);
  const unsigned era = yy / 400, yoe = yy - era * 400;
  const unsigned doy = (153 * (mo + (mo > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  out = (days * 86400 + h * 3600 + mi * 60 + sec) * 1000 + ms;
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601_ms(std::string_view s) noexcept {
  if (std::int64_t ms = 0; parse_iso8601_ms_exact(s, ms)) return ms;
  s = trim_whitespace(s);
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  std::size_t pos = 10;
  std::int64_t ms = 0;
  std::int64_t offset_min = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    if (!digits(s, pos + 1, 2, h) || s.size() < pos + 6 || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, mi))
      return std::nullopt;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!digits(s, pos + 1, 2, sec)) return std::nullopt;
      pos += 3;
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      std::int64_t scale = 100;
      const std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
    if (pos < s.size()) {
      if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
      } else if (s[pos] == '+' || s[pos] == '-') {
        const int sign = s[pos] == '-' ? -1 : 1;
        unsigned oh = 0, om = 0;
        if (!digits(s, pos + 1, 2, oh)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (!digits(s, pos, 2, om)) return std::nullopt;
        pos += 2;
        offset_min = sign * static_cast<std::int64_t>(oh * 60 + om);
      }
    }
    if (pos != s.size()) return std::nullopt;
  }
  const std::int64_t days = days_from_civil(y, mo, d);
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + ms;
}

void append_iso8601_ms(byte_arena& out, std::int64_t unix_ms) {
  std::int64_t secs = unix_ms / 1000;
  std::int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days (H. Hinnant)
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[32];
  auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const auto yy = static_cast<unsigned>(y);
  buf[0] = static_cast<char>('0' + (yy / 1000) % 10);
  buf[1] = static_cast<char>('0' + (yy / 100) % 10);
  two(buf + 2, yy % 100);
  buf[4] = '-';
  two(buf + 5, m);
  buf[7] = '-';
  two(buf + 8, d);
  buf[10] = 'T';
  two(buf + 11, static_cast<unsigned>(rem / 3600));
  buf[13] = ':';
  two(buf + 14, static_cast<unsigned>((rem / 60) % 60));
  buf[16] = ':';
  two(buf + 17, static_cast<unsigned>(rem % 60));
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  two(buf + 21, static_cast<unsigned>(ms % 100));
  buf[23] = 'Z';
  out.append(buf, 24);
}

// Number casts without a parse/format round trip (see benchmarks/number_bench.cpp): a plain
// decimal of at most 15 significant digits is exactly what to_chars would print back.

}  // namespace edgepipe
