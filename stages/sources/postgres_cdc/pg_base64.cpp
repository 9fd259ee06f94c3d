// Debezium's binary forms in JSON (binary.handling.mode=bytes): base64 of a bytea's bytes, and
// the precise decimal's unscaled value as big-endian two's complement bytes, base64.
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

#include <algorithm>
#include <string>
#include <string_view>

namespace edgepipe::pgcdc {

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
  // always_inline: GCC inlined it while this function was in pg_type_mapping.cpp; alone in this
  // file it inlines string::push_back into it instead, and then calls it for every digit.
  auto add_digit = [](unsigned dgt) __attribute__((always_inline)) {
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

}  // namespace edgepipe::pgcdc
