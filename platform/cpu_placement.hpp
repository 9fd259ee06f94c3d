// [pipeline] cpus = "auto" (the default): the whole process runs on one CPU while that CPU keeps
// up, and on every CPU it may use once it does not. At modest paced rates one CPU gives the
// lowest latency and the least CPU (no cross-CPU wake-ups: a futex wake-up of a thread on an
// idle vCPU is slow and its spread is the tail); at full speed the stages need the other CPUs.
//
// cpu_spread_policy is the decision alone (pure, testable with made-up samples);
// auto_cpu_placement applies it to the process. What the process runs on now is published for
// the status page and the replay summary (current_cpu_placement()).
//
// Threading: auto_cpu_placement is the main thread's (app/run_pipeline.cpp samples it every
// sample_interval() from its signal wait); current_cpu_placement() may be read from any thread
// (a mutex, taken a few times a second at most).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgepipe {

/// When to spread and when to come back. The process's own CPU time (every thread, the kernel's
/// io_uring workers included) over wall time.
class cpu_spread_policy {
 public:
  enum class decision { stay, widen, narrow };

  /// On one CPU: spread once a window of kWidenWindowNs used at least kWidenLoad of it (20 ms:
  /// a replay at full speed spreads at once, a paced one's bursts do not), or at once when the
  /// pipeline fell behind (a source found the transform's input ring full) in kBehindSamples of
  /// the last kBehindHistory samples: the one CPU may be shared with another busy process, which
  /// the process's own CPU time cannot show.
  static constexpr std::uint64_t kWidenWindowNs = 20'000'000;
  /// Behind in at least half of the last 10 samples (100 ms at 10 ms). A CPU shared with two
  /// busy loops leaves the pipeline behind in ~65% of the samples, never all of them in a row (it
  /// runs in bursts between the loops' slices); a stall of tens of ms (the CPU taken by a kernel
  /// thread or the hypervisor, the memory trimmer, a new spool segment) is behind in a few in a
  /// row and then not at all. "3 in a row" spread 1 paced run in 20 on this VM at 0.08 CPUs,
  /// and spread, its p99 was 4x the one CPU's.
  static constexpr int kBehindHistory = 10;
  static constexpr int kBehindSamples = 5;
  /// On one CPU: spread once other work (another process, not ours: the CPU's time neither idle
  /// nor the process's) took at least kOthersLoad of that CPU over kContendedWindowNs. Two busy
  /// loops sharing it left the pipeline behind rarely once its waits stopped spinning, but at p50
  /// 47 us and p99 4.2 ms against 16-21 us and ~1.5 ms spread; the kernel's own work for us there
  /// (interrupts, writeback) is a few %. A second, not less: a Kafka broker on the same machine
  /// took over half of the CPU for 200 ms now and then (1 paced run in 3 spread at 200 ms).
  static constexpr std::uint64_t kContendedWindowNs = 1'000'000'000;
  static constexpr double kOthersLoad = 0.5;
  /// observe()'s home_idle_ns when the one CPU's idle time could not be read.
  static constexpr std::uint64_t kNotMeasured = UINT64_MAX;
  static constexpr double kWidenLoad = 0.75;
  /// Spread: back to one CPU once a window of kNarrowWindowNs used at most kNarrowLoad CPUs in all
  /// (falling behind is not a reason to stay: spread, a ring also fills while a thread on an idle
  /// vCPU takes milliseconds to wake). The same work costs more CPU spread (cross-CPU wake-ups: 10k
  /// ISS payloads/s use 0.35 of one CPU, 0.55 spread), so at kNarrowLoad = kWidenLoad it still fits
  /// on the one with room, and a load that spread it stays spread. Spreading again within
  /// one such window of coming back (the one CPU is contended: it keeps up spread, not there)
  /// doubles the next window, up to kMaxNarrowWindowNs; a later spread starts it over.
  static constexpr std::uint64_t kNarrowWindowNs = 5'000'000'000;
  static constexpr std::uint64_t kMaxNarrowWindowNs = 320'000'000'000;
  static constexpr double kNarrowLoad = 0.75;

  /// One sample: `wall_ns` elapsed since the last one, `cpu_ns` of CPU the process used in it,
  /// `behind`: the pipeline fell behind in it (counts once kBehindSamples of the last
  /// kBehindHistory are), `home_idle_ns`: on one CPU, how long that CPU was idle in it (or waiting
  /// for I/O, or stolen by the hypervisor: anything but work), or kNotMeasured.
  decision observe(std::uint64_t wall_ns, std::uint64_t cpu_ns, bool behind = false,
                   std::uint64_t home_idle_ns = kNotMeasured) noexcept;

  bool spread() const noexcept { return spread_; }
  /// Why the last widen or narrow happened, for the log: the load of the window that decided it
  /// (CPUs) and its length, and what a widen was for.
  double last_load() const noexcept { return last_load_; }
  enum class widen_reason { busy, behind, contended };
  widen_reason last_widen_reason() const noexcept { return last_widen_reason_; }
  /// For a widen because the one CPU was contended: the share other work took of it.
  double last_others_load() const noexcept { return last_others_load_; }
  std::uint64_t last_window_ns() const noexcept { return last_window_ns_; }
  std::uint64_t narrow_window_ns() const noexcept { return narrow_window_ns_; }
  /// Starts over on one CPU (a new pipeline).
  void reset() noexcept { *this = cpu_spread_policy{}; }

 private:
  bool spread_ = false;
  std::uint64_t window_wall_ns_ = 0;
  std::uint64_t window_cpu_ns_ = 0;
  std::uint32_t behind_history_ = 0;  // bit i: behind in the sample i samples ago
  std::uint64_t narrow_window_ns_ = kNarrowWindowNs;
  std::uint64_t since_narrow_ns_ = UINT64_MAX;  // on one CPU: time since coming back (none yet)
  std::uint64_t contended_wall_ns_ = 0;         // on one CPU: the window of home_idle_ns samples
  std::uint64_t contended_idle_ns_ = 0;         // the CPU's idle time in it
  std::uint64_t contended_own_ns_ = 0;          // the process's CPU time in it
  double last_load_ = 0;
  std::uint64_t last_window_ns_ = 0;
  widen_reason last_widen_reason_ = widen_reason::busy;
  double last_others_load_ = 0;
};

/// What the process runs on, for the status page and the replay summary.
struct cpu_placement_snapshot {
  std::string mode = "all";        // "auto", "all" or "list"
  std::string cpus;                // the set it runs on now, in taskset syntax ("" = unknown)
  std::uint64_t spread_count = 0;  // auto: times it went from one CPU to all
  std::uint64_t narrow_count = 0;  // auto: times it came back to one
};

cpu_placement_snapshot current_cpu_placement();
/// Records a fixed placement ("all" or a [pipeline] cpus list); the auto counters are kept.
void publish_fixed_cpu_placement(const std::string& mode, const std::vector<int>& cpus);

/// Idle time of one CPU from /proc/stat: idle, iowait and steal (the kernel keeps idle and iowait
/// exactly; user and system are sampled at ticks and miss short bursts, a paced pipeline's whole
/// load). The file's unit is USER_HZ (10 ms), so it is read over windows of many samples.
/// Returns kNotMeasured when the line is missing or malformed.
std::uint64_t parse_cpu_idle_ns(std::string_view proc_stat, int cpu) noexcept;

class cpu_idle_clock {
 public:
  explicit cpu_idle_clock(int cpu);
  ~cpu_idle_clock();
  cpu_idle_clock(const cpu_idle_clock&) = delete;
  cpu_idle_clock& operator=(const cpu_idle_clock&) = delete;
  /// One pread of /proc/stat (~2.5 us for 2 CPUs); cpu_spread_policy::kNotMeasured if unreadable.
  std::uint64_t idle_ns();

 private:
  int cpu_;
  int fd_ = -1;
  std::vector<char> text_;
};

class auto_cpu_placement {
 public:
  /// How often sample() wants to run: on one CPU often enough that a replay at full speed
  /// spreads within ~10 ms; spread, the 5 s window needs no more.
  static constexpr std::chrono::milliseconds kSampleIntervalOnOne{10};
  static constexpr std::chrono::milliseconds kSampleIntervalSpread{100};

  /// `cpus`: the CPUs it may spread over (sorted, non-empty). Its "home", where the process runs
  /// while one CPU is enough, is the last: on many machines CPU 0 takes most interrupts.
  explicit auto_cpu_placement(std::vector<int> cpus);

  /// Puts every thread of the process on the home CPU and starts the policy over. Called on the
  /// main thread before a pipeline's threads exist (they inherit it). Returns 0 or the errno.
  int start_on_one_cpu();

  /// Reads the process's CPU time and moves every thread when the policy says so. Call every
  /// sample_interval() with the pipeline's count of pushes that found the transform's input ring
  /// full (a total; any growth since the last sample means it fell behind).
  void sample(std::uint64_t input_stalls);
  std::chrono::milliseconds sample_interval() const noexcept {
    return policy_.spread() ? kSampleIntervalSpread : kSampleIntervalOnOne;
  }

  int home_cpu() const noexcept { return cpus_.back(); }
  /// CPUs the process runs on now: 1, or all of them once spread.
  std::size_t cpus_in_use() const noexcept { return policy_.spread() ? cpus_.size() : 1; }

 private:
  void publish();
  /// The log line's text for a move ("spread to CPUs 0-1 (0.92 CPUs over 20 ms)").
  std::string describe_move(bool widen, const std::vector<int>& target) const;
  std::vector<int> current_set() const;  // the home CPU, or all of cpus_ once spread

  std::vector<int> cpus_;
  cpu_spread_policy policy_;
  cpu_idle_clock home_idle_;
  std::uint64_t last_home_idle_ns_ = cpu_spread_policy::kNotMeasured;
  std::uint64_t last_wall_ns_ = 0;
  std::uint64_t last_cpu_ns_ = 0;
  std::uint64_t last_input_stalls_ = 0;
  std::uint64_t spread_count_ = 0;
  std::uint64_t narrow_count_ = 0;
  bool moved_last_sample_ = false;
};

}  // namespace edgepipe
