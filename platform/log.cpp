#include "platform/log.hpp"

#include <unistd.h>

#include <atomic>

#include "platform/clock.hpp"
#include "platform/text_escape.hpp"

namespace edgepipe {

namespace {
std::atomic<bool> g_json{false};

const char* name(log_level l) {
  switch (l) {
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    default:
      return "error";
  }
}
}  // namespace

void set_log_json(bool json) noexcept { g_json.store(json); }

namespace {
// Bounded: components are a fixed set (sources, sinks, stages) per config; a cap keeps a
// pathological name churn (SIGHUP after SIGHUP with new names) from growing it without end.
constexpr std::size_t kMaxComponents = 512;
std::mutex g_problems_mutex;
std::unordered_map<std::string, component_problems>& problems() {
  static std::unordered_map<std::string, component_problems> m;
  return m;
}

void remember_problem(log_level level, std::string_view component, std::string_view message) {
  std::lock_guard lock(g_problems_mutex);
  auto& m = problems();
  auto it = m.find(std::string(component));
  if (it == m.end()) {
    if (m.size() >= kMaxComponents) return;
    it = m.emplace(std::string(component), component_problems{}).first;
  }
  logged_problem& p = level == log_level::error ? it->second.error : it->second.warning;
  p.message.assign(message);
  p.unix_ms = unix_now_ns() / 1'000'000;
  ++p.count;
}
}  // namespace

bool last_problems(std::string_view component, component_problems& out) {
  std::lock_guard lock(g_problems_mutex);
  const auto& m = problems();
  const auto it = m.find(std::string(component));
  if (it == m.end()) return false;
  out = it->second;
  return true;
}

void log_line(log_level level, std::string_view component, std::string_view message) {
  if (level != log_level::info) remember_problem(level, component, message);
  std::string line;
  if (g_json.load()) {
    line = "{\"ts_ms\":" + std::to_string(unix_now_ns() / 1'000'000) + ",\"level\":\"" +
           name(level) + "\",\"component\":\"";
    append_json_escaped(line, component);
    line += "\",\"msg\":\"";
    append_json_escaped(line, message);
    line += "\"}\n";
  } else {
    line = std::string("edgepipe: [") + name(level) + "] ";
    line.append(component);
    line += ": ";
    line.append(message);
    line += "\n";
  }
  // One write per line so lines from several threads never interleave.
  [[maybe_unused]] const auto n = ::write(2, line.data(), line.size());
}

void rate_limited_log::log(log_level level, std::string_view component, const std::string& key,
                           std::string_view message) {
  const auto now = std::chrono::steady_clock::now();
  unsigned long suppressed = 0;
  {
    std::lock_guard lock(mutex_);
    entry& e = entries_[key];
    if (e.last != std::chrono::steady_clock::time_point{} && now - e.last < window_) {
      ++e.suppressed;
      return;
    }
    suppressed = e.suppressed;
    e.suppressed = 0;
    e.last = now;
  }
  if (suppressed == 0) {
    log_line(level, component, message);
  } else {
    log_line(level, component,
             std::string(message) + " (" + std::to_string(suppressed) + " similar suppressed)");
  }
}

}  // namespace edgepipe
