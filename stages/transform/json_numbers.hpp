// JSON numbers for the transform's casts, allocation-free: formatting (the shortest round trip,
// as std::to_chars), parsing, and the fast paths that copy a token which is already in the form
// formatting would give.
// Threading: pure functions, any thread.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe {

void append_double(byte_arena& out, double v);
void append_int(byte_arena& out, std::int64_t v);

/// Fast paths of the double/int casts: append exactly what append_double(*parse_double(t)) /
/// append_int(*parse_int(t)) would, when `t` is a plain decimal of at most 15 significant digits
/// (resp. a canonical int64), without the parse/format round trip. False (nothing appended)
/// otherwise, and the caller takes the slow path. Verified by benchmarks/number_bench.
bool append_double_token(byte_arena& out, std::string_view t);
/// The length of what append_double(*parse_double(t)) would write when that is a prefix of `t`
/// (the token itself, or the token less the trailing zeros of its fraction, and its '.' when
/// nothing else is left of it: "2.50" -> "2.5", "3.0" -> "3"); 0 otherwise. `padded`: 16 bytes
/// from t.data() are readable (a token inside a padded body), which allows word reads.
std::size_t canonical_double_length(std::string_view t, bool padded) noexcept;
/// True when append_double(*parse_double(t)) would write `t` itself: a plain decimal of at most
/// 15 significant digits in the shortest form std::to_chars picks (no leading or trailing
/// zeros, no exponent, fixed notation no longer than scientific).
bool double_token_is_canonical(std::string_view t) noexcept;
/// True when append_int(*parse_int(t)) would write `t` itself (no sign on zero, no leading zeros,
/// at most 18 digits).
bool int_token_is_canonical(std::string_view t) noexcept;
bool append_int_token(byte_arena& out, std::string_view t);
/// The scientific form to_chars picks for a plain decimal whose significant digits are one run
/// ("95000000000.0" -> "9.5e+10", "0.0000012" -> "1.2e-06"), when that is shorter than the fixed
/// form and has at most 15 digits. False (nothing written) otherwise. Part of
/// append_double_token, callable alone where the fixed form is known not to apply.
bool append_scientific_token(byte_arena& out, std::string_view t);
/// append_scientific_token for a token of 1..16 bytes with 32 readable bytes from t.data() (a
/// token inside a padded body): the same output and the same verdict, read a word at a time
/// (the byte loops cost ~260 instructions a call on CoinGecko's prices and supplies).
bool append_scientific_token_padded(byte_arena& out, std::string_view t) noexcept;

/// Parses the whole of `s` as a number (leading/trailing spaces allowed). nullopt otherwise.
std::optional<double> parse_double(std::string_view s) noexcept;
std::optional<std::int64_t> parse_int(std::string_view s) noexcept;

namespace detail {
// The word-at-a-time part of canonical_double_length, inline so the transform's field writer
// takes it without a call.
inline std::size_t sci_length(std::size_t digits, std::size_t abs_exp10) {  // "d.ddde+XX"
  return digits + (digits > 1 ? 1 : 0) + 2 + (abs_exp10 >= 100 ? 3 : 2);
}

/// The checks after the grammar: `int_begin`/`int_len` the integer digits (no leading zero
/// unless it is the single "0"), `frac_begin`/`frac_len` the fraction digits, trailing zeros
/// already cut (frac_len may be 0: no fraction written). The length of the output form when
/// it is the token's own, or 0.
[[gnu::always_inline]] inline std::size_t canonical_form_length(const char* token,
                                                                const char* int_begin,
                                                                std::size_t int_len,
                                                                const char* frac_begin,
                                                                std::size_t frac_len) {
  // std::to_chars(double) writes the shortest digits that round-trip (for <= 15 significant
  // digits: the token's own) in %f or %e, whichever is shorter (%f on a tie).
  const auto sign = static_cast<std::size_t>(int_begin - token);
  if (frac_len == 0) {                       // an integer
    if (*int_begin == '0') return sign + 1;  // "0", "-0"
    if (int_len > 15) return 0;
    const char* last = int_begin + int_len;
    while (last[-1] == '0') --last;  // stops at int_begin's non-zero digit
    const auto digits = static_cast<std::size_t>(last - int_begin);
    return int_len <= sci_length(digits, int_len - 1) ? sign + int_len : 0;
  }
  if (*int_begin != '0') return int_len + frac_len <= 15 ? sign + int_len + 1 + frac_len : 0;
  const char* q = frac_begin;
  while (*q == '0') ++q;  // stops: the last fraction digit is not '0'
  const auto zeros = static_cast<std::size_t>(q - frac_begin);
  const std::size_t digits = frac_len - zeros;
  return digits <= 15 && frac_len + 2 <= sci_length(digits, zeros + 1) ? sign + 2 + frac_len : 0;
}

inline std::uint64_t load_word(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

/// Bit 7 of each byte of `w` that is not an ASCII digit (a byte >= 0x80 may also flag the bytes
/// above it; it is flagged itself, so no such token passes).
inline std::uint64_t non_digit_bits(std::uint64_t w) noexcept {
  constexpr std::uint64_t k30 = 0x3030303030303030ull, k76 = 0x7676767676767676ull;
  const std::uint64_t x = w ^ k30;  // digits become 0..9
  return ((x + k76) | x) & 0x8080808080808080ull;
}

/// Bit 7 of each byte of `w` that is not zero; exact (no borrow runs between bytes).
inline std::uint64_t nonzero_byte_bits(std::uint64_t w) noexcept {
  constexpr std::uint64_t k7f = 0x7f7f7f7f7f7f7f7full;
  return (((w & k7f) + k7f) | w) & 0x8080808080808080ull;
}

/// canonical_double_length for 1 <= n <= 16 with 16 readable bytes at p.
[[gnu::always_inline]] inline std::size_t canonical_double_length_padded(const char* p,
                                                                         std::size_t n) noexcept {
  // Word at a time: where the non-digits are decides the shape.
  std::uint64_t lo = non_digit_bits(load_word(p));
  std::uint64_t hi = non_digit_bits(load_word(p + 8));
  if (n < 8) {
    lo &= (std::uint64_t{1} << (8 * n)) - 1;
    hi = 0;
  } else if (n < 16) {
    hi &= (std::uint64_t{1} << (8 * (n - 8))) - 1;
  }
  const std::size_t sign = p[0] == '-' ? 1 : 0;
  lo &= ~static_cast<std::uint64_t>(sign << 7);  // the '-' at byte 0
  // At most one non-digit (the '.'): no popcount (it is a library call without -mpopcnt).
  // One branch for the three shapes that fail (a mispredicted branch costs more than the ops).
  const bool several = ((lo & (lo - 1)) | (hi & (hi - 1))) != 0;
  if (several | ((lo != 0) & (hi != 0)) | (n == sign)) return 0;
  const char* const int_begin = p + sign;
  if ((lo | hi) == 0) {  // digits only
    if (*int_begin == '0' && n - sign > 1) return 0;
    return canonical_form_length(p, int_begin, n - sign, nullptr, 0);
  }
  const std::size_t dot = lo != 0 ? static_cast<std::size_t>(std::countr_zero(lo)) / 8
                                  : 8 + static_cast<std::size_t>(std::countr_zero(hi)) / 8;
  if ((p[dot] != '.') | (dot == sign) | (dot + 1 == n)) return 0;
  const std::size_t int_len = dot - sign;
  if (*int_begin == '0' && int_len > 1) return 0;
  std::size_t frac_len = n - dot - 1;
  while (frac_len != 0 && p[dot + frac_len] == '0') --frac_len;  // "1.50" -> "1.5"
  return canonical_form_length(p, int_begin, int_len, p + dot + 1, frac_len);
}
}  // namespace detail

}  // namespace edgepipe
