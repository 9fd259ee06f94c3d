// What the synthetic API bodies (io/synth_payloads) share: the PRNG, fixed-point integer math,
// the calendar and the text writers. Integer-only on purpose, so a trace made on one machine is
// byte-identical on another. Used by synth_coingecko.cpp, synth_iss.cpp, synth_randomuser.cpp
// (one API each, declared in io/synth_apis.hpp) and synth_payloads.cpp (the generator).
// Threading: pure functions; an rng belongs to one thread.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edgepipe::synth_detail {

using u64 = std::uint64_t;
using u32 = std::uint32_t;
using i64 = std::int64_t;
// Exact fixed-point products (price * supply) need more than 64 bits in between.
__extension__ typedef unsigned __int128 u128;

// ---- Randomness ------------------------------------------------------------------------------

inline u64 splitmix64(u64& x) noexcept {
  u64 z = (x += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// xoshiro256**. Every draw below is a separate statement: C++ leaves the order of calls within
// one expression unspecified, which would make output compiler-dependent.
class rng {
 public:
  explicit rng(u64 seed) noexcept {
    for (u64& word : s_) word = splitmix64(seed);
  }
  u64 next() noexcept {
    const u64 result = std::rotl(s_[1] * 5, 7) * 9;
    const u64 t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }
  // Plain modulo: biased by at most n / 2^64, invisible at these ranges, and unlike
  // std::uniform_int_distribution it gives the same numbers with every standard library.
  u64 below(u64 n) noexcept { return next() % n; }
  i64 between(i64 lo, i64 hi) noexcept {  // inclusive
    return lo + static_cast<i64>(below(static_cast<u64>(hi - lo) + 1));
  }
  bool chance(u64 per_mille) noexcept { return below(1000) < per_mille; }
  template <class T>
  const T& pick(std::span<const T> items) noexcept {
    return items[below(items.size())];
  }

 private:
  std::array<u64, 4> s_{};
};

// ---- Integer math ----------------------------------------------------------------------------

constexpr std::array<u64, 20> make_pow10() {
  std::array<u64, 20> p{};
  p[0] = 1;
  for (std::size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 10;
  return p;
}
constexpr std::array<u64, 20> kPow10 = make_pow10();
constexpr u64 pow10(i64 n) noexcept { return kPow10[static_cast<std::size_t>(n)]; }

inline u64 magnitude(i64 v) noexcept {
  return v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v);
}

// a * b / d, saturating when the quotient does not fit.
inline u64 mul_div(u64 a, u64 b, u64 d) noexcept {
  const u128 q = static_cast<u128>(a) * b / d;
  return q > UINT64_MAX ? UINT64_MAX : static_cast<u64>(q);
}
inline i64 mul_div_signed(i64 a, u64 b, u64 d) noexcept {
  const i64 q = static_cast<i64>(std::min<u64>(mul_div(magnitude(a), b, d), INT64_MAX));
  return a < 0 ? -q : q;
}

inline int decimal_digits(u64 v) noexcept {
  int n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// Proleptic Gregorian calendar (H. Hinnant's algorithms), days since 1970-01-01.
constexpr i64 days_from_civil(i64 y, i64 m, i64 d) noexcept {
  y -= m <= 2;
  const i64 era = (y >= 0 ? y : y - 399) / 400;
  const i64 yoe = y - era * 400;
  const i64 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const i64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
struct civil_date {
  i64 year, month, day;
};
constexpr civil_date civil_from_days(i64 z) noexcept {
  z += 719468;
  const i64 era = (z >= 0 ? z : z - 146096) / 146097;
  const i64 doe = z - era * 146097;
  const i64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const i64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const i64 mp = (5 * doy + 2) / 153;
  const i64 m = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) / 5 + 1};
}

constexpr i64 kDayMs = 86'400'000;
constexpr i64 unix_ms(i64 y, i64 m, i64 d) noexcept { return days_from_civil(y, m, d) * kDayMs; }
constexpr i64 floor_div(i64 a, i64 b) noexcept {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

constexpr u64 kStartNs = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
static_assert(unix_ms(2026, 1, 1) * 1'000'000 == static_cast<i64>(kStartNs));

// Whole years from `from_ms` to `to_ms`, as a birthday-based age.
inline i64 years_between(i64 from_ms, i64 to_ms) noexcept {
  const civil_date a = civil_from_days(floor_div(from_ms, kDayMs));
  const civil_date b = civil_from_days(floor_div(to_ms, kDayMs));
  const bool before_anniversary = b.month < a.month || (b.month == a.month && b.day < a.day);
  return b.year - a.year - before_anniversary;
}

// sin of `turn` (a full circle is 2^32) in Q30 fixed point, accurate to ~1e-8. Integer-only
// so the ISS track is bit-identical everywhere (std::sin is not, and FMA contraction of a
// double polynomial can differ between targets).
constexpr i64 kQ30 = i64{1} << 30;
constexpr i64 kHalfPiQ30 = 1'686'629'713;
constexpr i64 q30_mul(i64 a, i64 b) noexcept { return a * b / kQ30; }

inline i64 sin_q30(u32 turn) noexcept {
  const u32 quadrant = turn >> 30;
  i64 f = static_cast<i64>(turn & static_cast<u32>(kQ30 - 1));  // position within the quadrant
  if (quadrant & 1) f = kQ30 - f;
  i64 v = 0;
  if (f <= kQ30 / 2) {  // Taylor series of sin near 0
    const i64 r = q30_mul(f, kHalfPiQ30);
    const i64 r2 = q30_mul(r, r);
    i64 t = kQ30 - r2 / 72;
    t = kQ30 - q30_mul(r2, t) / 42;
    t = kQ30 - q30_mul(r2, t) / 20;
    t = kQ30 - q30_mul(r2, t) / 6;
    v = q30_mul(r, t);
  } else {  // ... and of cos near pi/2, so both stay within pi/4 of their centre
    const i64 r = q30_mul(kQ30 - f, kHalfPiQ30);
    const i64 r2 = q30_mul(r, r);
    i64 t = kQ30 - r2 / 56;
    t = kQ30 - q30_mul(r2, t) / 30;
    t = kQ30 - q30_mul(r2, t) / 12;
    v = kQ30 - q30_mul(r2, t) / 2;
  }
  return quadrant >= 2 ? -v : v;
}

// ---- Text ------------------------------------------------------------------------------------

// Appends [begin, end). std::string's iterator-pair append goes through the slower _M_replace.
inline void append_range(std::string& out, const char* begin, const char* end) {
  out.append(begin, static_cast<std::size_t>(end - begin));
}

inline void put_uint(std::string& out, u64 v) {
  char buf[24];
  append_range(out, buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Writes exactly `width` digits, zero-padded, and returns the end. The put_* helpers below fill
// a local buffer and append once: per-piece appends were most of the coingecko time.
inline char* write_padded(char* p, u64 v, i64 width) noexcept {
  for (i64 i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

inline void put_padded(std::string& out, u64 v, i64 width) {
  char buf[20];
  append_range(out, buf, write_padded(buf, v, width));
}

// v / 10^scale the way a shortest round-trip printer shows it (trailing zeros dropped), but
// with at least `min_frac` fraction digits: supplies print as "21000000.0" like the real API.
inline void put_decimal(std::string& out, i64 v, i64 scale, i64 min_frac) {
  char buf[48];
  char* p = buf;
  if (v < 0) *p++ = '-';
  const u64 mag = magnitude(v);
  p = std::to_chars(p, buf + sizeof buf, mag / pow10(scale)).ptr;
  u64 frac = mag % pow10(scale);
  i64 digits = scale;
  while (digits > min_frac && frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  if (digits != 0) {
    *p++ = '.';
    p = write_padded(p, frac, digits);
  }
  append_range(out, buf, p);
}

constexpr i64 kPicoScale = 12;  // prices are held in 1e-12 USD

// Below 1e-7 USD the API (Ruby floats) switches to exponent form, e.g. "1.234e-08".
inline void put_price(std::string& out, i64 pico, i64 decimals) {
  const u64 mag = magnitude(pico);
  if (mag != 0 && mag < 100'000) {
    if (pico < 0) out += '-';
    char digits[8];
    const auto res = std::to_chars(digits, digits + sizeof digits, mag);
    const i64 length = res.ptr - digits;
    i64 kept = length;
    while (kept > 1 && digits[kept - 1] == '0') --kept;
    out += digits[0];
    out += '.';
    if (kept == 1) out += '0';
    out.append(digits + 1, static_cast<std::size_t>(kept - 1));
    out += "e-";
    put_padded(out, static_cast<u64>(kPicoScale - (length - 1)), 2);
    return;
  }
  const u64 unit = pow10(kPicoScale - decimals);
  const i64 rounded = static_cast<i64>((mag + unit / 2) / unit);
  put_decimal(out, pico < 0 ? -rounded : rounded, decimals, 0);
}

// A coordinate in 1e-4 degrees as the APIs write it: a JSON string with four decimals.
inline void put_coordinate(std::string& out, i64 e4) {
  out += '"';
  put_decimal(out, e4, 4, 4);
  out += '"';
}

// "2026-01-01T00:00:00.123Z"
inline void put_iso_ms(std::string& out, i64 ms) {
  const i64 days = floor_div(ms, kDayMs);
  const i64 in_day = ms - days * kDayMs;
  const civil_date date = civil_from_days(days);
  char buf[24];
  char* p = write_padded(buf, static_cast<u64>(date.year), 4);
  *p++ = '-';
  p = write_padded(p, static_cast<u64>(date.month), 2);
  *p++ = '-';
  p = write_padded(p, static_cast<u64>(date.day), 2);
  *p++ = 'T';
  p = write_padded(p, static_cast<u64>(in_day / 3'600'000), 2);
  *p++ = ':';
  p = write_padded(p, static_cast<u64>(in_day / 60'000 % 60), 2);
  *p++ = ':';
  p = write_padded(p, static_cast<u64>(in_day / 1'000 % 60), 2);
  *p++ = '.';
  p = write_padded(p, static_cast<u64>(in_day % 1'000), 3);
  *p++ = 'Z';
  append_range(out, buf, p);
}

inline void put_hex(std::string& out, rng& r, int count) {
  static constexpr char kHex[] = "0123456789abcdef";
  u64 bits = 0;
  for (int i = 0; i < count; ++i) {
    if (i % 16 == 0) bits = r.next();
    out += kHex[bits & 15];
    bits >>= 4;
  }
}

inline void put_uuid_v4(std::string& out, rng& r) {
  put_hex(out, r, 8);
  out += '-';
  put_hex(out, r, 4);
  out += "-4";
  put_hex(out, r, 3);
  out += '-';
  out += "89ab"[r.below(4)];
  put_hex(out, r, 3);
  out += '-';
  put_hex(out, r, 12);
}

// '#' any digit, '%' a non-zero digit, '^' an upper-case letter; anything else is literal.
inline void put_pattern(std::string& out, rng& r, std::string_view pattern) {
  for (const char ch : pattern) {
    if (ch == '#') {
      out += static_cast<char>('0' + r.below(10));
    } else if (ch == '%') {
      out += static_cast<char>('1' + r.below(9));
    } else if (ch == '^') {
      out += static_cast<char>('A' + r.below(26));
    } else {
      out += ch;
    }
  }
}

}  // namespace edgepipe::synth_detail
