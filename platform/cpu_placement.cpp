#include "platform/cpu_placement.hpp"

#include <time.h>

#include <mutex>

#include "platform/clock.hpp"
#include "platform/cpu_list.hpp"
#include "platform/log.hpp"
#include "platform/thread.hpp"

namespace edgepipe {

cpu_spread_policy::decision cpu_spread_policy::observe(std::uint64_t wall_ns,
                                                       std::uint64_t cpu_ns) noexcept {
  window_wall_ns_ += wall_ns;
  window_cpu_ns_ += cpu_ns;
  const std::uint64_t window = spread_ ? kNarrowWindowNs : kWidenWindowNs;
  if (window_wall_ns_ < window) return decision::stay;
  const double load = static_cast<double>(window_cpu_ns_) / static_cast<double>(window_wall_ns_);
  window_wall_ns_ = 0;
  window_cpu_ns_ = 0;
  if (!spread_ && load >= kWidenLoad) {
    spread_ = true;
    return decision::widen;
  }
  if (spread_ && load <= kNarrowLoad) {
    spread_ = false;
    return decision::narrow;
  }
  return decision::stay;
}

namespace {

std::mutex placement_mutex;
cpu_placement_snapshot placement;  // guarded by placement_mutex

std::uint64_t process_cpu_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

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

auto_cpu_placement::auto_cpu_placement(std::vector<int> cpus) : cpus_(std::move(cpus)) {}

int auto_cpu_placement::start_on_one_cpu() {
  policy_.reset();
  last_wall_ns_ = mono_now_ns();
  last_cpu_ns_ = process_cpu_ns();
  const int err = move_process_to_cpus({home_cpu()});
  publish();
  return err;
}

void auto_cpu_placement::sample() {
  const std::uint64_t wall = mono_now_ns();
  const std::uint64_t cpu = process_cpu_ns();
  const auto d =
      policy_.observe(wall - last_wall_ns_, cpu >= last_cpu_ns_ ? cpu - last_cpu_ns_ : 0);
  last_wall_ns_ = wall;
  last_cpu_ns_ = cpu;
  if (d == cpu_spread_policy::decision::stay) return;
  const bool widen = d == cpu_spread_policy::decision::widen;
  const std::vector<int> target = widen ? cpus_ : std::vector<int>{home_cpu()};
  if (const int err = move_process_to_cpus(target); err != 0) {
    log_line(log_level::warn, "main",
             "pipeline.cpus = \"auto\": cannot move the threads to CPUs " +
                 format_cpu_list(target) + " (errno " + std::to_string(err) + ")");
  }
  ++(widen ? spread_count_ : narrow_count_);
  publish();
}

void auto_cpu_placement::publish() {
  const std::lock_guard lock(placement_mutex);
  placement.mode = "auto";
  placement.cpus = policy_.spread() ? format_cpu_list(cpus_) : std::to_string(home_cpu());
  placement.spread_count = spread_count_;
  placement.narrow_count = narrow_count_;
}

}  // namespace edgepipe
