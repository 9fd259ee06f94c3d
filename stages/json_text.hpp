// Small, allocation-free JSON text helpers used by the transform and the dead-letter writer:
// string escaping, number formatting, UTF-8 sanitising of arbitrary bytes, and ISO-8601 times.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe {

/// Appends `s` (valid UTF-8) as a quoted JSON string.
void append_json_string(byte_arena& out, std::string_view s);
/// Appends arbitrary bytes as a quoted JSON string: invalid UTF-8 becomes U+FFFD.
void append_json_string_lossy(byte_arena& out, std::string_view bytes);
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

/// Parses the whole of `s` as a number (leading/trailing spaces allowed). nullopt otherwise.
std::optional<double> parse_double(std::string_view s) noexcept;
std::optional<std::int64_t> parse_int(std::string_view s) noexcept;

/// "2026-01-01T00:00:00.123Z" / "+02:00" offsets / date only -> Unix milliseconds.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view s) noexcept;
/// Unix milliseconds -> "2026-01-01T00:00:00.123Z" appended to out.
void append_iso8601_ms(byte_arena& out, std::int64_t unix_ms);

}  // namespace edgepipe
