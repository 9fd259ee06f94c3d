#include "stages/transform/json_text.hpp"

#include <cstdint>
#include <cstring>

#include "platform/utf8.hpp"

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

// Eight bytes at a time (SWAR): nonzero when any byte is < 0x20, '"' or '\\'. Exact as an
// existence test, which is all it is used for.
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
      out.append(kUtf8Replacement.data(), kUtf8Replacement.size());
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out.push_back('"');
}

}  // namespace edgepipe
