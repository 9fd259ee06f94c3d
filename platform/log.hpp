// Structured logging to stderr: text ("edgepipe: [warn] src:http: message") or JSON lines
// ({"ts":...,"level":"warn","component":"src:http","msg":"..."}), and a rate limiter so a
// repeating error is logged once per window with a count of what was suppressed.
// Threading: any thread; one line per call (a single write).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgepipe {

enum class log_level { info, warn, error };

void set_log_json(bool json) noexcept;
void log_line(log_level level, std::string_view component, std::string_view message);

/// The last warn and error line logged by a component ("sink:kafka", "source iss"), kept for
/// the status page (stages/report). Only log lines (cold, rate-limited paths) write it.
struct logged_problem {
  std::string message;       // empty: none yet
  std::int64_t unix_ms = 0;  // when it was logged
  std::uint64_t count = 0;   // lines at this level so far
};
struct component_problems {
  logged_problem warning;
  logged_problem error;
};
/// Copies the component's last problems; false when it never logged a warning or an error.
bool last_problems(std::string_view component, component_problems& out);

/// Logs the first message per key, then at most one per window, saying how many were dropped.
class rate_limited_log {
 public:
  explicit rate_limited_log(std::chrono::seconds window = std::chrono::seconds(10))
      : window_(window) {}
  void log(log_level level, std::string_view component, const std::string& key,
           std::string_view message);

 private:
  struct entry {
    std::chrono::steady_clock::time_point last{};
    unsigned long suppressed = 0;
  };
  std::chrono::seconds window_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
};

}  // namespace edgepipe
