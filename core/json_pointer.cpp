#include "core/json_pointer.hpp"

namespace edgepipe {

bool split_json_pointer(std::string_view pointer, std::vector<std::string>& segments,
                        std::string& error) {
  segments.clear();
  if (pointer.empty()) return true;
  if (pointer.front() != '/') {
    error = "a JSON pointer must be empty or start with '/'";
    return false;
  }
  std::string current;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      segments.push_back(current);
      current.clear();
      continue;
    }
    if (pointer[i] == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) {
        error = "'~' must be followed by 0 or 1 in a JSON pointer";
        return false;
      }
      current.push_back(pointer[i + 1] == '0' ? '~' : '/');
      ++i;
      continue;
    }
    current.push_back(pointer[i]);
  }
  return true;
}

}  // namespace edgepipe
