// The machine's own latency floor, for benchmarks/latency_ab.sh: one thread per CPU (pinned when
// the kernel allows it) reads the monotonic clock in a tight loop for a few seconds and counts
// the gaps, i.e. the times it was not running (another thread, a kernel thread, an interrupt,
// the hypervisor). A pipeline thread on that CPU stalls as long; at 10k records/s a 5 ms gap
// delays 50 records, so a machine whose CPUs lose more than ~1% of their time in gaps over
// 100 us cannot show a p99 below 100 us, whatever the pipeline does.
// Not a Google Benchmark: one JSON line per CPU, then one for the machine.
//
//   machine_jitter [SECONDS]      (default 5)
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

namespace {

struct gaps {
  unsigned cpu = 0;
  bool pinned = false;
  std::uint64_t over_100us = 0, over_1ms = 0, over_5ms = 0, over_20ms = 0;
  std::uint64_t lost_ns = 0;  // in gaps over 100 us
  std::uint64_t max_ns = 0;
};

void measure(gaps& g, std::chrono::nanoseconds length) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(g.cpu, &set);
  g.pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
  using clock = std::chrono::steady_clock;
  const auto end = clock::now() + length;
  auto last = clock::now();
  for (;;) {
    const auto now = clock::now();
    const auto gap = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - last).count());
    last = now;
    g.max_ns = std::max(g.max_ns, gap);
    if (gap > 100'000) {
      ++g.over_100us;
      g.lost_ns += gap;
      if (gap > 1'000'000) ++g.over_1ms;
      if (gap > 5'000'000) ++g.over_5ms;
      if (gap > 20'000'000) ++g.over_20ms;
    }
    if (now >= end) break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  if (!(seconds > 0 && seconds <= 600)) {
    std::fprintf(stderr, "usage: machine_jitter [SECONDS (0..600]]\n");
    return 2;
  }
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const auto length = std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
  std::vector<gaps> per_cpu(cpus);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < cpus; ++i) {
    per_cpu[i].cpu = i;
    threads.emplace_back(measure, std::ref(per_cpu[i]), length);
  }
  for (auto& t : threads) t.join();
  gaps all;
  for (const auto& g : per_cpu) {
    std::printf(
        "{\"cpu\":%u,\"pinned\":%s,\"gaps_over_100us\":%llu,\"gaps_over_1ms\":%llu,"
        "\"gaps_over_5ms\":%llu,\"gaps_over_20ms\":%llu,\"lost_ms\":%.1f,\"max_gap_us\":%.0f}\n",
        g.cpu, g.pinned ? "true" : "false", static_cast<unsigned long long>(g.over_100us),
        static_cast<unsigned long long>(g.over_1ms), static_cast<unsigned long long>(g.over_5ms),
        static_cast<unsigned long long>(g.over_20ms), static_cast<double>(g.lost_ns) / 1e6,
        static_cast<double>(g.max_ns) / 1e3);
    all.over_100us += g.over_100us;
    all.over_1ms += g.over_1ms;
    all.over_5ms += g.over_5ms;
    all.lost_ns += g.lost_ns;
    all.max_ns = std::max(all.max_ns, g.max_ns);
  }
  // Share of the CPUs' time lost in gaps over 100 us.
  const double lost_share = static_cast<double>(all.lost_ns) / (seconds * 1e9 * cpus);
  std::printf(
      "{\"kind\":\"machine_jitter\",\"cpus\":%u,\"seconds\":%.1f,\"gaps_over_1ms\":%llu,"
      "\"gaps_over_5ms\":%llu,\"lost_percent\":%.2f,\"max_gap_us\":%.0f}\n",
      cpus, seconds, static_cast<unsigned long long>(all.over_1ms),
      static_cast<unsigned long long>(all.over_5ms), 100.0 * lost_share,
      static_cast<double>(all.max_ns) / 1e3);
  return 0;
}
