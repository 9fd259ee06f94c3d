// JSON writers for the CDC envelope.
#include "stages/sources/postgres_cdc/cdc_json.hpp"

#include <charconv>
#include <cmath>

#include "platform/utf8.hpp"

namespace edgepipe::pgcdc {
void append_json_string(byte_arena& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      std::size_t j = i + 1;
      while (j < s.size()) {
        const auto d = static_cast<unsigned char>(s[j]);
        if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
        ++j;
      }
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out.append(kUtf8Replacement);
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    out.push_back('\\');
    switch (c) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '\t':
        out.push_back('t');
        break;
      case '\b':
        out.push_back('b');
        break;
      case '\f':
        out.push_back('f');
        break;
      default:
        out.append("u00");
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    ++i;
  }
  out.push_back('"');
}

void append_int(byte_arena& out, std::int64_t v) {
  char* p = out.prepare(24);
  const auto r = std::to_chars(p, p + 24, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

void append_double(byte_arena& out, double v) {
  char* p = out.prepare(32);
  const auto r = std::to_chars(p, p + 32, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

std::optional<double> parse_double(std::string_view s) noexcept {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace edgepipe::pgcdc
