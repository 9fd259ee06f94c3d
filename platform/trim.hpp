// Trimming the blanks around a text token: a number or time inside a JSON string, an HTTP header
// value. Threading: pure functions, any thread.
#pragma once

#include <string_view>

namespace edgepipe {

/// `s` without the spaces, tabs, CRs and LFs at either end.
constexpr std::string_view trim_whitespace(std::string_view s) noexcept {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace edgepipe
