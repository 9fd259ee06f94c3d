// Errors as values: a status is "ok" or a message, with the errno that caused it when there is
// one (code(): ENOSPC, EIO, ...; 0 when the error has no errno), so callers can tell a full disk
// from a failing one without parsing text (simdjson's error enum is the model). Used on paths
// where exceptions would be wrong (hot loops) or awkward (threads); config loading uses it too.
#pragma once

#include <string>
#include <utility>

namespace edgepipe {

class [[nodiscard]] status {
 public:
  status() = default;
  static status ok() { return {}; }
  /// `code`: the errno behind the error (0: none).
  static status error(std::string message, int code = 0) {
    status s;
    s.failed_ = true;
    s.code_ = code;
    s.message_ = std::move(message);
    return s;
  }
  explicit operator bool() const noexcept { return !failed_; }
  bool is_ok() const noexcept { return !failed_; }
  const std::string& message() const noexcept { return message_; }
  /// The errno of the failure, 0 when ok or when the error did not come from a system call.
  int code() const noexcept { return code_; }
  /// The same error (same code) with `prefix` put before its message.
  status prefixed(const std::string& prefix) const {
    return failed_ ? error(prefix + message_, code_) : ok();
  }

 private:
  bool failed_ = false;
  int code_ = 0;
  std::string message_;
};

/// "what: strerror(err)".
std::string errno_message(const std::string& what, int err);
/// An error status "what: strerror(err)" carrying `err` as its code.
inline status errno_status(const std::string& what, int err) {
  return status::error(errno_message(what, err), err);
}

}  // namespace edgepipe
