#include "platform/cpu_placement.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <mutex>

#include "platform/clock.hpp"
#include "platform/cpu_list.hpp"
#include "platform/log.hpp"
#include "platform/thread.hpp"

namespace edgepipe {

cpu_spread_policy::decision cpu_spread_policy::observe(std::uint64_t wall_ns, std::uint64_t cpu_ns,
                                                       bool behind,
                                                       std::uint64_t home_idle_ns) noexcept {
  bool contended = false;
  if (!spread_ && home_idle_ns != kNotMeasured) {
    contended_wall_ns_ += wall_ns;
    contended_idle_ns_ += home_idle_ns;
    contended_own_ns_ += cpu_ns;
    if (contended_wall_ns_ >= kContendedWindowNs) {
      // Signed: the idle counter moves in 10 ms ticks, a window's may exceed its wall time.
      const double others =
          (static_cast<double>(contended_wall_ns_) - static_cast<double>(contended_idle_ns_) -
           static_cast<double>(contended_own_ns_)) /
          static_cast<double>(contended_wall_ns_);
      contended = others >= kOthersLoad;
      if (contended) last_others_load_ = others;
      contended_wall_ns_ = contended_idle_ns_ = contended_own_ns_ = 0;
    }
  }
  window_wall_ns_ += wall_ns;
  window_cpu_ns_ += cpu_ns;
  behind_history_ = ((behind_history_ << 1) | (behind ? 1u : 0u)) & ((1u << kBehindHistory) - 1);
  if (!spread_ && since_narrow_ns_ != UINT64_MAX) since_narrow_ns_ += wall_ns;
  const std::uint64_t window = spread_ ? narrow_window_ns_ : kWidenWindowNs;
  const bool fell_behind = !spread_ && std::popcount(behind_history_) >= kBehindSamples;
  if (window_wall_ns_ < window && !fell_behind && !contended) return decision::stay;
  const double load = static_cast<double>(window_cpu_ns_) / static_cast<double>(window_wall_ns_);
  last_load_ = load;
  last_window_ns_ = window_wall_ns_;
  window_wall_ns_ = 0;
  window_cpu_ns_ = 0;
  if (!spread_ && (load >= kWidenLoad || fell_behind || contended)) {
    spread_ = true;
    last_widen_reason_ = load >= kWidenLoad ? widen_reason::busy
                         : fell_behind      ? widen_reason::behind
                                            : widen_reason::contended;
    behind_history_ = 0;
    contended_wall_ns_ = contended_idle_ns_ = contended_own_ns_ = 0;
    narrow_window_ns_ = since_narrow_ns_ < narrow_window_ns_
                            ? std::min(2 * narrow_window_ns_, kMaxNarrowWindowNs)
                            : kNarrowWindowNs;
    return decision::widen;
  }
  if (spread_ && load <= kNarrowLoad) {
    spread_ = false;
    since_narrow_ns_ = 0;
    contended_wall_ns_ = contended_idle_ns_ = contended_own_ns_ = 0;
    return decision::narrow;
  }
  return decision::stay;
}

namespace {

std::mutex placement_mutex;
cpu_placement_snapshot placement;  // guarded by placement_mutex

}  // namespace

cpu_placement_snapshot current_cpu_placement() {
  const std::lock_guard lock(placement_mutex);
  return placement;
}

void publish_fixed_cpu_placement(const std::string& mode, const std::vector<int>& cpus) {
  const std::lock_guard lock(placement_mutex);
  placement.mode = mode;
  placement.cpus = format_cpu_list(cpus);
}

std::uint64_t parse_cpu_idle_ns(std::string_view proc_stat, int cpu) noexcept {
  char label[24];
  const int n = std::snprintf(label, sizeof label, "\ncpu%d ", cpu);
  const std::size_t at = proc_stat.find(std::string_view(label, static_cast<std::size_t>(n)));
  if (at == std::string_view::npos) return cpu_spread_policy::kNotMeasured;
  const char* p = proc_stat.data() + at + static_cast<std::size_t>(n);
  const char* const end = proc_stat.data() + proc_stat.size();
  std::uint64_t f[8] = {};  // user nice system idle iowait irq softirq steal
  for (std::uint64_t& v : f) {
    while (p < end && *p == ' ') ++p;
    const auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc{} || next == p) return cpu_spread_policy::kNotMeasured;
    p = next;
  }
  const std::uint64_t ticks = f[3] + f[4] + f[7];
  static const long hz = sysconf(_SC_CLK_TCK);
  return ticks * (1'000'000'000u / static_cast<std::uint64_t>(hz > 0 ? hz : 100));
}

cpu_idle_clock::cpu_idle_clock(int cpu)
    : cpu_(cpu), fd_(::open("/proc/stat", O_RDONLY | O_CLOEXEC)), text_(std::size_t{64} << 10) {}

cpu_idle_clock::~cpu_idle_clock() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t cpu_idle_clock::idle_ns() {
  if (fd_ < 0) return cpu_spread_policy::kNotMeasured;
  // The per-CPU lines come right after the first ("cpu  ", all CPUs): 64 KiB hold them for
  // ~1000 CPUs.
  const ssize_t n = ::pread(fd_, text_.data(), text_.size(), 0);
  if (n <= 0) return cpu_spread_policy::kNotMeasured;
  return parse_cpu_idle_ns(std::string_view(text_.data(), static_cast<std::size_t>(n)), cpu_);
}

auto_cpu_placement::auto_cpu_placement(std::vector<int> cpus)
    : cpus_(std::move(cpus)), home_idle_(cpus_.back()) {}

std::vector<int> auto_cpu_placement::current_set() const {
  return policy_.spread() ? cpus_ : std::vector<int>{home_cpu()};
}

int auto_cpu_placement::start_on_one_cpu() {
  policy_.reset();
  moved_last_sample_ = false;
  last_input_stalls_ = 0;  // a new pipeline's counters start at 0
  last_wall_ns_ = mono_now_ns();
  last_cpu_ns_ = process_cpu_ns();
  last_home_idle_ns_ = home_idle_.idle_ns();
  const int err = move_process_to_cpus({home_cpu()});
  publish();
  return err;
}

void auto_cpu_placement::sample(std::uint64_t input_stalls) {
  const std::uint64_t wall = mono_now_ns();
  const std::uint64_t cpu = process_cpu_ns();
  // The home CPU's idle time matters only while the process is on it alone.
  const std::uint64_t home_idle =
      policy_.spread() ? cpu_spread_policy::kNotMeasured : home_idle_.idle_ns();
  const bool home_measured = home_idle != cpu_spread_policy::kNotMeasured &&
                             last_home_idle_ns_ != cpu_spread_policy::kNotMeasured &&
                             home_idle >= last_home_idle_ns_;
  const auto d = policy_.observe(
      wall - last_wall_ns_, cpu >= last_cpu_ns_ ? cpu - last_cpu_ns_ : 0,
      input_stalls != last_input_stalls_,
      home_measured ? home_idle - last_home_idle_ns_ : cpu_spread_policy::kNotMeasured);
  last_home_idle_ns_ = home_idle;
  last_wall_ns_ = wall;
  last_cpu_ns_ = cpu;
  last_input_stalls_ = input_stalls;
  if (d == cpu_spread_policy::decision::stay) {
    // A thread made while the last move ran (librdkafka starting a broker thread, say) took its
    // creator's old set: one more pass after each move catches it.
    if (moved_last_sample_) move_process_to_cpus(current_set());
    moved_last_sample_ = false;
    return;
  }
  const bool widen = d == cpu_spread_policy::decision::widen;
  const std::vector<int> target = current_set();
  moved_last_sample_ = true;
  if (const int err = move_process_to_cpus(target); err != 0) {
    log_line(log_level::warn, "main",
             "pipeline.cpus = \"auto\": cannot move the threads to CPUs " +
                 format_cpu_list(target) + " (errno " + std::to_string(err) + ")");
  }
  ++(widen ? spread_count_ : narrow_count_);
  publish();
  log_line(log_level::info, "main", "pipeline.cpus = \"auto\": " + describe_move(widen, target));
}

std::string auto_cpu_placement::describe_move(bool widen, const std::vector<int>& target) const {
  char load[64];
  std::snprintf(load, sizeof load, "%.2f CPUs over %.0f ms", policy_.last_load(),
                static_cast<double>(policy_.last_window_ns()) / 1e6);
  const std::string to = (target.size() == 1 ? "CPU " : "CPUs ") + format_cpu_list(target);
  if (!widen) return "back to " + to + " (" + load + ")";
  if (policy_.last_widen_reason() == cpu_spread_policy::widen_reason::behind)
    return "spread to " + to + " (the transform's input ring was full in " +
           std::to_string(cpu_spread_policy::kBehindSamples) + " of the last " +
           std::to_string(cpu_spread_policy::kBehindHistory) + " samples; " + load + ")";
  if (policy_.last_widen_reason() == cpu_spread_policy::widen_reason::contended) {
    char others[96];
    std::snprintf(others, sizeof others, "other work took %.2f of CPU %d over %.0f ms",
                  policy_.last_others_load(), home_cpu(),
                  static_cast<double>(cpu_spread_policy::kContendedWindowNs) / 1e6);
    return "spread to " + to + " (" + others + "; " + load + ")";
  }
  return "spread to " + to + " (" + load + ")";
}

void auto_cpu_placement::publish() {
  const std::lock_guard lock(placement_mutex);
  placement.mode = "auto";
  placement.cpus = format_cpu_list(current_set());
  placement.spread_count = spread_count_;
  placement.narrow_count = narrow_count_;
}

}  // namespace edgepipe
