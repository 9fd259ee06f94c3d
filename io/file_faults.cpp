#include "io/file_faults.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <string_view>

namespace edgepipe::file_faults {

namespace {
std::atomic<bool> g_armed{false};
std::atomic<std::uint64_t> g_fired{0};
std::mutex g_mutex;
plan g_plan;
std::uint64_t g_seen = 0;  // matching calls so far (g_mutex)

bool parse_u64(std::string_view v, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size();
}
}  // namespace

void arm(plan p) {
  std::lock_guard lock(g_mutex);
  g_plan = std::move(p);
  g_seen = 0;
  g_fired.store(0);
  g_armed.store(true, std::memory_order_release);
}

void disarm() {
  std::lock_guard lock(g_mutex);
  g_armed.store(false, std::memory_order_release);
}

std::uint64_t fired() { return g_fired.load(); }

bool holding(op what, const std::string& path) {
  if (!g_armed.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(g_mutex);
  return g_armed.load(std::memory_order_relaxed) && g_plan.hold && what == g_plan.what &&
         path.find(g_plan.path_part) != std::string::npos;
}

void release_held() {
  std::lock_guard lock(g_mutex);
  g_plan.hold = false;
}

int apply(op what, const std::string& path, std::uint64_t offset, int res) {
  if (!g_armed.load(std::memory_order_relaxed)) return res;
  std::lock_guard lock(g_mutex);
  if (!g_armed.load(std::memory_order_relaxed) || what != g_plan.what || offset < g_plan.from ||
      path.find(g_plan.path_part) == std::string::npos)
    return res;
  const std::uint64_t n = g_seen++;
  if (n < g_plan.skip || n - g_plan.skip >= g_plan.count) return res;
  g_fired.fetch_add(1);
  return -g_plan.err;
}

bool arm_from_env() {
  const char* env = std::getenv("EDGEPIPE_FILE_FAULTS");
  if (env == nullptr || *env == '\0') return true;
  plan p;
  std::string_view rest(env);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    std::uint64_t n = 0;
    if (key == "op") {
      if (value == "write")
        p.what = op::write;
      else if (value == "sync")
        p.what = op::sync;
      else if (value == "read")
        p.what = op::read;
      else
        return false;
    } else if (key == "err") {
      if (value == "EIO")
        p.err = EIO;
      else if (value == "ENOSPC")
        p.err = ENOSPC;
      else if (parse_u64(value, n) && n > 0 && n < 4096)
        p.err = static_cast<int>(n);
      else
        return false;
    } else if (key == "path") {
      p.path_part = std::string(value);
    } else if (key == "skip" && parse_u64(value, n)) {
      p.skip = n;
    } else if (key == "count" && parse_u64(value, n)) {
      p.count = n;
    } else if (key == "from" && parse_u64(value, n)) {
      p.from = n;
    } else {
      return false;
    }
  }
  arm(std::move(p));
  return true;
}

}  // namespace edgepipe::file_faults
