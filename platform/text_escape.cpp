#include "platform/text_escape.hpp"

#include "platform/utf8.hpp"

namespace edgepipe {

namespace {

/// Appends the UTF-8 sequence at s[i], or U+FFFD for one byte when none starts there; returns
/// the index after what it consumed.
std::size_t append_utf8_or_replacement(std::string& out, std::string_view s, std::size_t i) {
  const std::size_t n = utf8_sequence_length(s, i);
  if (n == 0) {
    out += kUtf8Replacement;
    return i + 1;
  }
  out.append(s.data() + i, n);
  return i + n;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      i = append_utf8_or_replacement(out, s, i);
      continue;
    }
    ++i;
  }
}

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
  return out;
}

void append_prometheus_escaped(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else {
      i = append_utf8_or_replacement(out, s, i);
    }
  }
}

std::string prometheus_label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  append_prometheus_escaped(out, value);
  out.push_back('"');
  return out;
}

}  // namespace edgepipe
