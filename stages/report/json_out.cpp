#include "stages/report/json_out.hpp"

#include <charconv>
#include <cmath>

#include "platform/utf8.hpp"

namespace edgepipe {

namespace {

void append_u_escape(std::string& out, unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  out.push_back(kHex[(v >> 12) & 0xF]);
  out.push_back(kHex[(v >> 8) & 0xF]);
  out.push_back(kHex[(v >> 4) & 0xF]);
  out.push_back(kHex[v & 0xF]);
}

/// Printable ASCII that needs no escape.
bool plain(unsigned char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

}  // namespace

void append_json_text(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    // The common case: a run of plain ASCII, appended at once.
    std::size_t run = i;
    while (run < s.size() && plain(static_cast<unsigned char>(s[run]))) ++run;
    if (run != i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '<':
        case '>':
        case '&':
        case 0x7F:
          append_u_escape(out, c);
          break;
        default:
          if (c < 0x20)
            append_u_escape(out, c);
          else
            out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      append_u_escape(out, static_cast<unsigned char>(s[i + 2]) == 0xA8 ? 0x2028u : 0x2029u);
      i += 3;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out.push_back('"');
}

void json_out::key(std::string_view k) {
  if (need_comma_) out_.push_back(',');
  if (!k.empty()) {
    append_json_text(out_, k);
    out_.push_back(':');
  }
  need_comma_ = true;
}

json_out& json_out::begin_object(std::string_view k) {
  key(k);
  out_.push_back('{');
  need_comma_ = false;
  return *this;
}
json_out& json_out::end_object() {
  out_.push_back('}');
  need_comma_ = true;
  return *this;
}
json_out& json_out::begin_array(std::string_view k) {
  key(k);
  out_.push_back('[');
  need_comma_ = false;
  return *this;
}
json_out& json_out::end_array() {
  out_.push_back(']');
  need_comma_ = true;
  return *this;
}
json_out& json_out::field(std::string_view k, std::string_view v) {
  key(k);
  append_json_text(out_, v);
  return *this;
}
json_out& json_out::field(std::string_view k, std::uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}
json_out& json_out::field(std::string_view k, std::int64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}
json_out& json_out::field(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
  out_.append(buf, r.ptr);
  return *this;
}
json_out& json_out::field(std::string_view k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}
json_out& json_out::null_field(std::string_view k) {
  key(k);
  out_ += "null";
  return *this;
}
json_out& json_out::raw_field(std::string_view k, std::string_view json) {
  key(k);
  out_.append(json);
  return *this;
}
json_out& json_out::value(std::string_view s) {
  key({});
  append_json_text(out_, s);
  return *this;
}
json_out& json_out::value(double v) { return field({}, v); }

}  // namespace edgepipe
