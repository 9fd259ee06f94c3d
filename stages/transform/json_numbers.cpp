#include "stages/transform/json_numbers.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "platform/trim.hpp"

namespace edgepipe {

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
  s = trim_whitespace(s);
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
  s = trim_whitespace(s);
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
bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Appends what append_double(out, *parse_double(token)) would append, when `token` is a plain
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
