// UTF-8 well-formedness, byte by byte: the one check behind every text writer that replaces
// invalid input with U+FFFD (platform/text_escape, stages/report/json_out, the CDC envelope's
// strings). Threading: pure functions, any thread; inline because the CDC writer calls it per
// non-ASCII byte of a row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edgepipe {

/// The UTF-8 replacement character U+FFFD, encoded.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

/// Length (1..4) of the well-formed UTF-8 sequence starting at s[i], or 0 when it is not one: a
/// stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF or a
/// sequence cut short by the end of `s`. Requires i < s.size().
constexpr std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    cp = b0 & 0x07u;
  } else {
    return 0;
  }
  if (n > s.size() - i) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

/// Offset of the first byte of `s` that does not start a well-formed UTF-8 sequence, or
/// s.size() when all of `s` is well-formed.
constexpr std::size_t utf8_invalid_offset(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

}  // namespace edgepipe
