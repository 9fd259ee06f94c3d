#include "stages/transform/json_text.hpp"

#include <bit>

#include <charconv>
#include <cmath>
#include <cstring>

namespace edgepipe {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// 1 where a byte must be escaped inside a JSON string.
constexpr bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void append_escaped_byte(byte_arena& out, unsigned char c) {
  switch (c) {
    case '"':
      out.append("\\\"", 2);
      return;
    case '\\':
      out.append("\\\\", 2);
      return;
    case '\n':
      out.append("\\n", 2);
      return;
    case '\r':
      out.append("\\r", 2);
      return;
    case '\t':
      out.append("\\t", 2);
      return;
    case '\b':
      out.append("\\b", 2);
      return;
    case '\f':
      out.append("\\f", 2);
      return;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(u, 6);
    }
  }
}

// Length of a valid UTF-8 sequence starting at s[i], or 0 if invalid/incomplete.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xF0 && c1 < 0x90) return 0;
    if (c == 0xF4 && c1 > 0x8F) return 0;
    return 4;
  }
  return 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

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

}  // namespace

// Eight bytes at a time (SWAR): nonzero when any byte is < 0x20, '"' or '\\'. Exact as an
// existence test, which is all it is used for.
namespace {
inline std::uint64_t has_zero_byte(std::uint64_t v) {
  return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
}
inline std::uint64_t escape_mask(std::uint64_t x) {
  constexpr std::uint64_t k01 = 0x0101010101010101ull;
  const std::uint64_t below_space = (x - k01 * 0x20) & ~x & 0x8080808080808080ull;
  return below_space | has_zero_byte(x ^ (k01 * '"')) | has_zero_byte(x ^ (k01 * '\\'));
}
}  // namespace

void append_json_string(byte_arena& out, std::string_view s) {
  {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t x;
      std::memcpy(&x, s.data() + i, 8);
      if (escape_mask(x)) break;
    }
    if (i + 8 > s.size()) {
      for (; i < s.size(); ++i)
        if (needs_escape(static_cast<unsigned char>(s[i]))) break;
    }
    if (i >= s.size()) {  // nothing to escape: one copy
      char* w = out.prepare(s.size() + 2);
      w[0] = '"';
      std::memcpy(w + 1, s.data(), s.size());
      w[s.size() + 1] = '"';
      out.commit(s.size() + 2);
      return;
    }
  }
  out.push_back('"');
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!needs_escape(c)) continue;
    out.append(s.data() + run, i - run);
    append_escaped_byte(out, c);
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_json_string_lossy(byte_arena& out, std::string_view s) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (needs_escape(c)) {
      append_escaped_byte(out, c);
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD", 3);  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out.push_back('"');
}

void append_double(byte_arena& out, double v) {
  if (!std::isfinite(v)) {  // JSON has no NaN/Infinity
    out.append("null", 4);
    return;
  }
  char* p = out.prepare(32);
  // Shortest round trip, fixed or scientific, whichever is shorter; but an integer of 2^63 or
  // more in magnitude is written in scientific form: as a 19-20 digit integer literal it is out
  // of int64's range, which parsers such as simdjson, Go's and Java's reject or turn into a big
  // integer (found by fuzz_transform: 1.96e19 came out as 19600000274123456512).
  auto r = std::to_chars(p, p + 32, v);
  if (std::fabs(v) >= 0x1p63 && std::memchr(p, 'e', static_cast<std::size_t>(r.ptr - p)) == nullptr)
    r = std::to_chars(p, p + 32, v, std::chars_format::scientific);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

void append_int(byte_arena& out, std::int64_t v) {
  char* p = out.prepare(24);
  const auto r = std::to_chars(p, p + 24, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

std::optional<double> parse_double(std::string_view s) noexcept {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') {
    s.remove_prefix(1);  // "+1" is a number; "+-1" and "++1" are not
    if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
  }
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_int(std::string_view s) noexcept {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') {
    s.remove_prefix(1);  // "+1" is a number; "+-1" and "++1" are not
    if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
  }
  std::int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return v;
  // "12.0" or "1e3" are integers written as doubles; accept them when exact.
  const auto d = parse_double(s);
  if (d && std::nearbyint(*d) == *d && std::fabs(*d) < 9.2e18) return static_cast<std::int64_t>(*d);
  return std::nullopt;
}

namespace {
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
  s = trim(s);
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
namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Appends what append_double(out, *parse_double(token)) would append, when `token` is a plain
/// JSON decimal with at most 15 significant digits and a modest exponent. False (nothing
/// appended) otherwise: the caller takes the slow path.
}  // namespace

std::size_t canonical_double_length(std::string_view t, bool padded) noexcept {
  const char* const p = t.data();
  const std::size_t n = t.size();
  if (padded && n != 0 && n <= 16) return detail::canonical_double_length_padded(p, n);
  const char* q = p;
  const char* const end = p + n;
  if (q != end && *q == '-') ++q;
  if (q == end || !is_digit(*q)) return 0;
  const char* const int_begin = q;
  if (*q == '0') {
    ++q;
  } else {
    while (q != end && is_digit(*q)) ++q;
  }
  const auto int_len = static_cast<std::size_t>(q - int_begin);
  if (int_len >= 19) return 0;  // maybe 2^63 or more: append_double's scientific rule decides
  if (q == end) return detail::canonical_form_length(p, int_begin, int_len, nullptr, 0);
  if (*q != '.') return 0;  // an exponent or other bytes
  const char* const frac_begin = ++q;
  while (q != end && is_digit(*q)) ++q;
  if (q != end || q == frac_begin) return 0;
  auto frac_len = static_cast<std::size_t>(q - frac_begin);
  while (frac_len != 0 && frac_begin[frac_len - 1] == '0') --frac_len;
  return detail::canonical_form_length(p, int_begin, int_len, frac_begin, frac_len);
}

bool double_token_is_canonical(std::string_view t) noexcept {
  return canonical_double_length(t, false) == t.size();
}

bool append_scientific_token(byte_arena& out, std::string_view t) {
  const char* p = t.data();
  const char* const end = p + t.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  const char* const int_begin = p;
  while (p != end && is_digit(*p)) ++p;
  const char* const int_end = p;
  const char* frac_begin = p;
  const char* frac_end = p;
  if (p != end && *p == '.') {
    frac_begin = ++p;
    while (p != end && is_digit(*p)) ++p;
    frac_end = p;
  }
  if (p != end || int_begin == int_end || (int_end - int_begin > 1 && *int_begin == '0') ||
      (frac_begin != int_end && frac_begin == frac_end))
    return false;
  while (frac_end != frac_begin && frac_end[-1] == '0') --frac_end;
  const char* digits;
  std::size_t n;
  int exp10;
  if (*int_begin != '0') {
    if (frac_end != frac_begin) return false;  // digits on both sides of the point: %f form
    const char* last = int_end;
    while (last[-1] == '0') --last;
    digits = int_begin;
    n = static_cast<std::size_t>(last - int_begin);
    exp10 = static_cast<int>(int_end - int_begin) - 1;
    if (static_cast<std::size_t>(int_end - int_begin) <=
        detail::sci_length(n, static_cast<std::size_t>(exp10)))
      return false;  // %f is no longer
  } else {
    const char* q = frac_begin;
    while (q != frac_end && *q == '0') ++q;
    if (q == frac_end) return false;  // zero: canonical_double_length's case
    digits = q;
    n = static_cast<std::size_t>(frac_end - q);
    exp10 = -static_cast<int>(q - frac_begin) - 1;
    if (static_cast<std::size_t>(frac_end - frac_begin) + 2 <=
        detail::sci_length(n, static_cast<std::size_t>(-exp10)))
      return false;
  }
  if (n > 15 || exp10 > 308 || exp10 < -307) return false;
  char* const start = out.prepare(n + 8);
  char* w = start;
  if (negative) *w++ = '-';
  *w++ = digits[0];
  if (n > 1) {
    *w++ = '.';
    std::memcpy(w, digits + 1, n - 1);
    w += n - 1;
  }
  *w++ = 'e';
  *w++ = exp10 < 0 ? '-' : '+';
  const int e = exp10 < 0 ? -exp10 : exp10;
  if (e >= 100) *w++ = static_cast<char>('0' + e / 100);
  *w++ = static_cast<char>('0' + (e / 10) % 10);
  *w++ = static_cast<char>('0' + e % 10);
  out.commit(static_cast<std::size_t>(w - start));
  return true;
}

// Over 100 lines on purpose: the fast path (plain decimals, written without a round trip) and
// its exact fallbacks sit together so the checks that choose between them read as one proof.
namespace {
/// Index of the lowest / highest byte flagged (bit 7) in the 16-byte mask lo:hi; 16 when none.
inline std::size_t lowest_flagged(std::uint64_t lo, std::uint64_t hi) noexcept {
  if (lo != 0) return static_cast<std::size_t>(std::countr_zero(lo)) / 8;
  return hi != 0 ? 8 + static_cast<std::size_t>(std::countr_zero(hi)) / 8 : 16;
}
inline std::size_t highest_flagged(std::uint64_t lo, std::uint64_t hi) noexcept {
  if (hi != 0) return 15 - static_cast<std::size_t>(std::countl_zero(hi)) / 8;
  return lo != 0 ? 7 - static_cast<std::size_t>(std::countl_zero(lo)) / 8 : 16;
}
/// The bytes [from, to) of a 16-byte mask (0 <= from <= to <= 16).
inline void keep_bytes(std::uint64_t& lo, std::uint64_t& hi, std::size_t from,
                       std::size_t to) noexcept {
  auto below = [](std::size_t k) {  // the bytes under k of one word, k in 0..8
    return k >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * k)) - 1;
  };
  lo &= below(to < 8 ? to : 8) & ~below(from < 8 ? from : 8);
  hi &= below(to > 8 ? to - 8 : 0) & ~below(from > 8 ? from - 8 : 0);
}
}  // namespace

bool append_scientific_token_padded(byte_arena& out, std::string_view t) noexcept {
  const char* const p = t.data();
  const std::size_t n = t.size();
  if (n == 0 || n > 16) return append_scientific_token(out, t);
  constexpr std::uint64_t k30 = 0x3030303030303030ull;
  const std::uint64_t w0 = detail::load_word(p), w1 = detail::load_word(p + 8);
  // The shape, as in canonical_double_length_padded: an optional '-', digits, at most one '.'.
  std::uint64_t odd_lo = detail::non_digit_bits(w0), odd_hi = detail::non_digit_bits(w1);
  keep_bytes(odd_lo, odd_hi, 0, n);
  const std::size_t sign = p[0] == '-' ? 1 : 0;
  odd_lo &= ~static_cast<std::uint64_t>(sign << 7);
  if (((odd_lo & (odd_lo - 1)) | (odd_hi & (odd_hi - 1))) != 0 || (odd_lo != 0 && odd_hi != 0))
    return false;
  const std::size_t dot = (odd_lo | odd_hi) == 0 ? n : lowest_flagged(odd_lo, odd_hi);
  if (dot != n && (p[dot] != '.' || dot + 1 == n)) return false;
  const std::size_t int_len = dot - sign;
  if (int_len == 0 || (int_len > 1 && p[sign] == '0')) return false;
  // The digits that are not '0' (the sign and the point are not digits: dropped).
  std::uint64_t nz_lo = detail::nonzero_byte_bits(w0 ^ k30);
  std::uint64_t nz_hi = detail::nonzero_byte_bits(w1 ^ k30);
  std::size_t first = 0, last = 0, exp_abs = 0, fixed_len = 0;
  bool negative_exp = false;
  if (p[sign] != '0') {  // d...d[.0...]: a fraction of zeros only, else the %f form is taken
    std::uint64_t frac_lo = nz_lo, frac_hi = nz_hi;
    keep_bytes(frac_lo, frac_hi, dot + 1 < n ? dot + 1 : n, n);
    if ((frac_lo | frac_hi) != 0) return false;
    keep_bytes(nz_lo, nz_hi, sign, dot);
    first = sign;
    last = highest_flagged(nz_lo, nz_hi);  // exists: the first digit is not '0'
    exp_abs = int_len - 1;
    fixed_len = int_len;
  } else {                       // 0.0...0ddd[0...]
    if (dot == n) return false;  // "0": canonical_double_length's case
    keep_bytes(nz_lo, nz_hi, dot + 1, n);
    if ((nz_lo | nz_hi) == 0) return false;  // zero: canonical_double_length's case
    first = lowest_flagged(nz_lo, nz_hi);
    last = highest_flagged(nz_lo, nz_hi);
    exp_abs = first - dot;  // the zeros after the point, plus one
    negative_exp = true;
    fixed_len = last - dot + 2;  // "0." and the fraction up to its last non-zero digit
  }
  const std::size_t digits = last - first + 1;
  if (fixed_len <= detail::sci_length(digits, exp_abs) || digits > 15) return false;
  // Fixed-size copies (no memcpy call): the digits are read 16 bytes at a time from the
  // padded body, and the arena has room for those 16 plus the sign, point and exponent.
  char* const start = out.prepare(32);
  char* w = start;
  *w = '-';
  w += sign;
  *w++ = p[first];
  *w = '.';
  w += digits > 1 ? 1 : 0;
  std::memcpy(w, p + first + 1, 16);
  w += digits - 1;
  *w++ = 'e';
  *w++ = negative_exp ? '-' : '+';
  *w++ = static_cast<char>('0' + exp_abs / 10);  // exp_abs < 16
  *w++ = static_cast<char>('0' + exp_abs % 10);
  out.commit(static_cast<std::size_t>(w - start));
  return true;
}

bool append_double_token(byte_arena& out, std::string_view t) {
  if (const std::size_t n = canonical_double_length(t, false); n != 0) {
    out.append(t.data(), n);  // the common case: the token (less trailing fraction zeros)
    return true;
  }
  if (append_scientific_token(out, t)) return true;
  const char* p = t.data();
  const char* const end = p + t.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  // Integer part: "0" or [1-9][0-9]*.
  const char* const int_begin = p;
  if (p == end || !is_digit(*p)) return false;
  if (*p == '0') {
    ++p;
  } else {
    while (p != end && is_digit(*p)) ++p;
  }
  const char* const int_end = p;
  const char* frac_begin = p;
  const char* frac_end = p;
  if (p != end && *p == '.') {
    ++p;
    frac_begin = p;
    while (p != end && is_digit(*p)) ++p;
    frac_end = p;
    if (frac_begin == frac_end) return false;  // "1." is not JSON
  }
  if (p != end) return false;                   // exponent, spaces or anything else: slow path
  if (int_end - int_begin >= 19) return false;  // maybe 2^63 or more: append_double decides

  // Significant digits: the integer digits from the first non-zero, then the fraction digits
  // without trailing zeros; `exp10` is the decimal exponent of the first significant digit.
  char digits[40];
  int n = 0;
  int exp10 = 0;
  const char* q = int_begin;
  while (q != int_end && *q == '0') ++q;
  if (q != int_end) {
    exp10 = static_cast<int>(int_end - q) - 1;
    for (; q != int_end; ++q) {
      if (n == 15) return false;
      digits[n++] = *q;
    }
    const char* last = frac_end;
    while (last != frac_begin && last[-1] == '0') --last;
    for (q = frac_begin; q != last; ++q) {
      if (n == 15) return false;
      digits[n++] = *q;
    }
  } else {
    const char* last = frac_end;
    while (last != frac_begin && last[-1] == '0') --last;
    q = frac_begin;
    while (q != last && *q == '0') ++q;
    if (q == last) {  // zero: to_chars writes "0" or "-0"
      if (negative) out.push_back('-');
      out.push_back('0');
      return true;
    }
    exp10 = -static_cast<int>(q - frac_begin) - 1;
    for (; q != last; ++q) {
      if (n == 15) return false;
      digits[n++] = *q;
    }
  }
  // The integer part may end in zeros that are not significant (e.g. 21000000).
  while (n > 1 && digits[n - 1] == '0') --n;

  // std::to_chars(double) picks %f or %e, whichever is shorter (%f on a tie).
  const int abs_exp = exp10 < 0 ? -exp10 : exp10;
  const int sci_len = n + (n > 1 ? 1 : 0) + 2 + (abs_exp >= 100 ? 3 : 2);
  int fixed_len;
  if (exp10 >= 0) {
    fixed_len = n <= exp10 + 1 ? exp10 + 1 : n + 1;
  } else {
    fixed_len = n + 1 - exp10;
  }
  char* w = out.prepare(static_cast<std::size_t>(sci_len > fixed_len ? sci_len : fixed_len) + 1);
  char* const start = w;
  if (negative) *w++ = '-';
  if (fixed_len <= sci_len) {
    if (exp10 >= 0) {
      const int int_digits = exp10 + 1;
      for (int i = 0; i < int_digits; ++i) *w++ = i < n ? digits[i] : '0';
      if (n > int_digits) {
        *w++ = '.';
        for (int i = int_digits; i < n; ++i) *w++ = digits[i];
      }
    } else {
      *w++ = '0';
      *w++ = '.';
      for (int i = 0; i < -exp10 - 1; ++i) *w++ = '0';
      for (int i = 0; i < n; ++i) *w++ = digits[i];
    }
  } else {
    *w++ = digits[0];
    if (n > 1) {
      *w++ = '.';
      for (int i = 1; i < n; ++i) *w++ = digits[i];
    }
    *w++ = 'e';
    *w++ = exp10 < 0 ? '-' : '+';
    if (abs_exp >= 100) *w++ = static_cast<char>('0' + abs_exp / 100);
    *w++ = static_cast<char>('0' + (abs_exp / 10) % 10);
    *w++ = static_cast<char>('0' + abs_exp % 10);
  }
  out.commit(static_cast<std::size_t>(w - start));
  return true;
}

/// Canonical int64 tokens are written back unchanged by parse_int + append_int.
bool int_token_is_canonical(std::string_view t) noexcept {
  std::size_t i = t.size() && t[0] == '-' ? 1 : 0;
  const std::size_t digits = t.size() - i;
  if (digits == 0 || digits > 18) return false;
  if (t[i] == '0' && (digits > 1 || i == 1)) return false;  // "01", "-0"
  for (; i < t.size(); ++i)
    if (!is_digit(t[i])) return false;
  return true;
}

bool append_int_token(byte_arena& out, std::string_view t) {
  if (!int_token_is_canonical(t)) return false;
  out.append(t);
  return true;
}

}  // namespace edgepipe
