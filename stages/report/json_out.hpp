// A small JSON writer for the operator documents (/api/status): objects, arrays, numbers, and
// strings escaped for any context -- quotes, backslashes and control characters, plus <, >, &
// and U+2028/2029 as \u escapes (so a document pasted into HTML or JS stays inert), and invalid
// UTF-8 replaced with U+FFFD. Threading: a plain value; one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace edgepipe {

/// Appends `s` as a JSON string literal (with the quotes), escaped as above.
void append_json_text(std::string& out, std::string_view s);

class json_out {
 public:
  json_out() { out_.reserve(16384); }
  json_out& begin_object(std::string_view key = {});
  json_out& end_object();
  json_out& begin_array(std::string_view key = {});
  json_out& end_array();
  json_out& field(std::string_view key, std::string_view value);
  json_out& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  json_out& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view(value));
  }
  json_out& field(std::string_view key, std::uint64_t value);
  json_out& field(std::string_view key, std::int64_t value);
  json_out& field(std::string_view key, double value);
  json_out& field(std::string_view key, bool value);
  json_out& null_field(std::string_view key);
  /// `json` is a complete JSON value written by another json_out (not checked, not escaped).
  json_out& raw_field(std::string_view key, std::string_view json);
  /// An array element or top-level value.
  json_out& value(std::string_view s);
  json_out& value(double v);

  const std::string& str() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  void key(std::string_view k);
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace edgepipe
