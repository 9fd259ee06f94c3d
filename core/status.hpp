// Errors as values: a status is "ok" or a message. Used on paths where exceptions would be
// wrong (hot loops) or awkward (threads); config loading uses it too, for uniformity.
#pragma once

#include <string>
#include <utility>

namespace edgepipe {

class [[nodiscard]] status {
 public:
  status() = default;
  static status ok() { return {}; }
  static status error(std::string message) {
    status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  explicit operator bool() const noexcept { return !failed_; }
  bool is_ok() const noexcept { return !failed_; }
  const std::string& message() const noexcept { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

/// "what: strerror(err)".
std::string errno_message(const std::string& what, int err);

}  // namespace edgepipe
