// [pipeline] cpus = "auto": when the policy spreads the process over its CPUs and when it brings
// it back to one (platform/cpu_placement.hpp), fed made-up samples; and that moving the process
// moves the threads it already has (platform/thread.hpp), which is how a running pipeline
// follows the policy (app/run_pipeline.cpp).
#include "platform/cpu_placement.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "platform/thread.hpp"

namespace edgepipe {
namespace {

using decision = cpu_spread_policy::decision;
constexpr std::uint64_t kMs = 1'000'000;

/// Feeds `ms` of 10 ms samples at `load` CPUs; the last decision that was not `stay`.
decision run_for(cpu_spread_policy& policy, std::uint64_t ms, double load) {
  decision last = decision::stay;
  for (std::uint64_t t = 0; t < ms; t += 10) {
    const auto d = policy.observe(10 * kMs, static_cast<std::uint64_t>(10.0 * kMs * load));
    if (d != decision::stay) last = d;
  }
  return last;
}

TEST(CpuSpreadPolicy, StartsOnOneCpuAndStaysThereWhileItKeepsUp) {
  cpu_spread_policy policy;
  EXPECT_FALSE(policy.spread());
  EXPECT_EQ(run_for(policy, 60'000, 0.6), decision::stay);  // a busy minute, under 75%
  EXPECT_FALSE(policy.spread());
}

TEST(CpuSpreadPolicy, SpreadsOnceAWindowUsedThreeQuartersOfTheOneCpu) {
  cpu_spread_policy policy;
  EXPECT_EQ(policy.observe(10 * kMs, 10 * kMs), decision::stay) << "half a window is not enough";
  EXPECT_EQ(policy.observe(10 * kMs, 6 * kMs), decision::widen);  // 16 of 20 ms
  EXPECT_TRUE(policy.spread());
}

TEST(CpuSpreadPolicy, ABusyMomentInsideAQuietWindowDoesNotSpread) {
  cpu_spread_policy policy;
  EXPECT_EQ(policy.observe(10 * kMs, 10 * kMs), decision::stay);
  EXPECT_EQ(policy.observe(10 * kMs, 2 * kMs), decision::stay);  // 12 of 20 ms: 60%
  EXPECT_FALSE(policy.spread());
}

TEST(CpuSpreadPolicy, ComesBackToOneCpuAfterFiveQuietSecondsOnly) {
  cpu_spread_policy policy;
  ASSERT_EQ(run_for(policy, 20, 1.0), decision::widen);
  EXPECT_EQ(run_for(policy, 4'990, 0.1), decision::stay) << "before 5 s";
  EXPECT_EQ(run_for(policy, 10, 0.1), decision::narrow);
  EXPECT_FALSE(policy.spread());
}

TEST(CpuSpreadPolicy, StaysSpreadWhileTheLoadIsOverThreeQuartersOfACpu) {
  cpu_spread_policy policy;
  ASSERT_EQ(run_for(policy, 20, 1.5), decision::widen);
  EXPECT_EQ(run_for(policy, 60'000, 0.8), decision::stay);
  EXPECT_TRUE(policy.spread());
  EXPECT_EQ(run_for(policy, 5'000, 0.7), decision::narrow);
}

// The one CPU shared with another busy process: little CPU of its own, but a source found the
// transform's ring full.
TEST(CpuSpreadPolicy, SpreadsWhenThePipelineFallsBehindInHalfOfTenSamplesWhateverItsOwnLoad) {
  static_assert(cpu_spread_policy::kBehindHistory == 10 && cpu_spread_policy::kBehindSamples == 5);
  cpu_spread_policy policy;
  // A stall of 40 ms, then none: not behind.
  for (int i = 0; i < 4; ++i) ASSERT_EQ(policy.observe(10 * kMs, 1 * kMs, true), decision::stay);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(policy.observe(10 * kMs, 1 * kMs, false), decision::stay);
  // Stalls every third sample for a second: a few rings filled, keeping up.
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(policy.observe(10 * kMs, 1 * kMs, i % 3 == 0), decision::stay) << i;
  // Every other sample (a CPU shared with busy loops): the fifth of ten spreads it.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(policy.observe(10 * kMs, 1 * kMs, false), decision::stay);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(policy.observe(10 * kMs, 1 * kMs, true), decision::stay);
    ASSERT_EQ(policy.observe(10 * kMs, 1 * kMs, false), decision::stay);
  }
  EXPECT_EQ(policy.observe(10 * kMs, 1 * kMs, true), decision::widen);
}

/// kBehindSamples 10 ms samples behind in a row at 0.2 CPUs; the last decision.
decision fall_behind(cpu_spread_policy& policy) {
  decision d = decision::stay;
  for (int i = 0; i < cpu_spread_policy::kBehindSamples; ++i)
    d = policy.observe(10 * kMs, 2 * kMs, true);
  return d;
}

// Spread it keeps up; back on the one contended CPU it falls behind at once: each round trip
// doubles the time before the next try, and a spread long after coming back starts it over.
TEST(CpuSpreadPolicy, FallingBehindSoonAfterComingBackDoublesTheWaitBeforeTheNextTry) {
  cpu_spread_policy policy;
  ASSERT_EQ(run_for(policy, 10, 0.2), decision::stay);
  ASSERT_EQ(fall_behind(policy), decision::widen);
  EXPECT_EQ(policy.narrow_window_ns(), 5'000 * kMs) << "the first spread";
  ASSERT_EQ(run_for(policy, 5'000, 0.3), decision::narrow);
  ASSERT_EQ(fall_behind(policy), decision::widen);
  EXPECT_EQ(policy.narrow_window_ns(), 10'000 * kMs);
  EXPECT_EQ(run_for(policy, 9'990, 0.3), decision::stay);
  ASSERT_EQ(run_for(policy, 10, 0.3), decision::narrow);
  ASSERT_EQ(fall_behind(policy), decision::widen);
  EXPECT_EQ(policy.narrow_window_ns(), 20'000 * kMs);
  for (int i = 0; i < 10; ++i) {  // capped
    ASSERT_EQ(run_for(policy, policy.narrow_window_ns() / kMs, 0.3), decision::narrow);
    ASSERT_EQ(fall_behind(policy), decision::widen);
  }
  EXPECT_EQ(policy.narrow_window_ns(), cpu_spread_policy::kMaxNarrowWindowNs);
  ASSERT_EQ(run_for(policy, policy.narrow_window_ns() / kMs, 0.3), decision::narrow);
  EXPECT_EQ(run_for(policy, cpu_spread_policy::kMaxNarrowWindowNs / kMs, 0.3), decision::stay);
  ASSERT_EQ(fall_behind(policy), decision::widen);
  EXPECT_EQ(policy.narrow_window_ns(), 5'000 * kMs) << "kept up on one CPU for long: over";
}

/// `ms` of 10 ms samples at `own` CPUs of the process while its one CPU was busy `busy` of the
/// time in all (idle the rest); the last decision that was not `stay`.
decision share_for(cpu_spread_policy& policy, std::uint64_t ms, double own, double busy) {
  decision last = decision::stay;
  for (std::uint64_t t = 0; t < ms; t += 10) {
    const auto d = policy.observe(10 * kMs, static_cast<std::uint64_t>(10.0 * kMs * own), false,
                                  static_cast<std::uint64_t>(10.0 * kMs * (1.0 - busy)));
    if (d != decision::stay) last = d;
  }
  return last;
}

// Another process busy on the one CPU: the pipeline keeps up (its waits block at once), but its
// wake-ups queue behind the other's time slices.
TEST(CpuSpreadPolicy, SpreadsOnceOtherWorkTookHalfOfTheOneCpuOverASecond) {
  cpu_spread_policy policy;
  EXPECT_EQ(share_for(policy, 10'000, 0.2, 0.6), decision::stay) << "others at 0.4: stay";
  EXPECT_EQ(share_for(policy, 990, 0.2, 0.95), decision::stay) << "not a whole window yet";
  EXPECT_EQ(share_for(policy, 10, 0.2, 0.95), decision::widen);
  EXPECT_EQ(policy.last_widen_reason(), cpu_spread_policy::widen_reason::contended);
  EXPECT_NEAR(policy.last_others_load(), 0.75, 0.01);
  EXPECT_EQ(share_for(policy, 4'990, 0.2, 1.0), decision::stay)
      << "spread: the one CPU's share is not looked at";
  EXPECT_EQ(share_for(policy, 10, 0.2, 1.0), decision::narrow) << "5 quiet seconds";
  EXPECT_EQ(share_for(policy, 990, 0.2, 1.0), decision::stay) << "a new window";
  EXPECT_EQ(share_for(policy, 10, 0.2, 1.0), decision::widen);
}

// The idle counter moves in 10 ms ticks: a sample may count more idle time than its wall time,
// the next one none. Only the window's sum counts.
TEST(CpuSpreadPolicy, IdleTicksThatStraddleSamplesEvenOutOverTheWindow) {
  cpu_spread_policy policy;
  for (int i = 0; i < 2000; ++i)  // idle 0 or 20 ms by turns: 100% idle; the process at 0.3
    ASSERT_EQ(policy.observe(10 * kMs, 3 * kMs, false, i % 2 == 0 ? 0 : 20 * kMs), decision::stay)
        << i;
}

TEST(CpuSpreadPolicy, AnUnreadableIdleTimeIsNoReasonToSpread) {
  cpu_spread_policy policy;
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(policy.observe(10 * kMs, 2 * kMs, false, cpu_spread_policy::kNotMeasured),
              decision::stay);
}

TEST(CpuIdleClock, ParsesTheIdleTicksOfItsCpusLine) {
  const long hz = sysconf(_SC_CLK_TCK);
  const std::uint64_t tick_ns = 1'000'000'000u / static_cast<std::uint64_t>(hz);
  const std::string stat =
      "cpu  111 222 333 444 555 666 777 888 0 0\n"
      "cpu0 1 2 3 4 5 6 7 8 0 0\n"
      "cpu1 100 200 300 400 500 600 700 800 0 0\n"
      "cpu10 9 9 9 9 9 9 9 9 0 0\n"
      "intr 12345 0 1\n";
  // idle + iowait + steal: not user, nice, system, irq or softirq.
  EXPECT_EQ(parse_cpu_idle_ns(stat, 1), (400u + 500 + 800) * tick_ns);
  EXPECT_EQ(parse_cpu_idle_ns(stat, 0), (4u + 5 + 8) * tick_ns);
  EXPECT_EQ(parse_cpu_idle_ns(stat, 10), 27u * tick_ns);
  EXPECT_EQ(parse_cpu_idle_ns(stat, 2), cpu_spread_policy::kNotMeasured);
  EXPECT_EQ(parse_cpu_idle_ns("cpu  1 2\ncpu1 100 x 300\n", 1), cpu_spread_policy::kNotMeasured);
  EXPECT_EQ(parse_cpu_idle_ns("cpu  1 2\ncpu1 1 2 3 4 5 6 7\n", 1),
            cpu_spread_policy::kNotMeasured);
}

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

TEST(CpuIdleClock, ACpuBusyWithAThreadIsNotIdle) {
  const int cpu = allowed_cpus().back();
  cpu_idle_clock clock(cpu);
  EXPECT_EQ(cpu_idle_clock(1'000'000).idle_ns(), cpu_spread_policy::kNotMeasured);
  std::uint64_t before = 0, after = 0, wall = 0;
  std::thread busy([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
    before = clock.idle_ns();
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t cpu_start = thread_cpu_ns();
    while (thread_cpu_ns() - cpu_start < 100 * kMs) {
    }
    after = clock.idle_ns();
    wall = static_cast<std::uint64_t>(
        std::chrono::nanoseconds(std::chrono::steady_clock::now() - start).count());
  });
  busy.join();
  ASSERT_NE(before, cpu_spread_policy::kNotMeasured);
  ASSERT_NE(after, cpu_spread_policy::kNotMeasured);
  ASSERT_GE(after, before);
  // 100 ms of this thread's CPU time ran there, so the CPU was idle at most the rest of the wall
  // time (plus a tick either side: the file counts in 10 ms).
  EXPECT_LE(after - before, wall - 100 * kMs + 20 * kMs);
}

TEST(CpuSpreadPolicy, ResetStartsOverOnOneCpu) {
  cpu_spread_policy policy;
  ASSERT_EQ(run_for(policy, 20, 1.0), decision::widen);
  policy.reset();
  EXPECT_FALSE(policy.spread());
  EXPECT_EQ(policy.observe(10 * kMs, 10 * kMs), decision::stay) << "the window starts over";
}

std::vector<int> affinity_of(pthread_t thread) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (pthread_getaffinity_np(thread, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &set)) cpus.push_back(cpu);
  return cpus;
}

// A thread started before the move (as a running pipeline's are) follows it both ways.
TEST(ProcessCpus, MovingTheProcessMovesTheThreadsItAlreadyHas) {
  const std::vector<int> all = allowed_cpus();
  if (all.size() < 2) GTEST_SKIP() << "needs two CPUs";
  std::atomic<bool> done{false};
  std::thread worker([&] {
    while (!done.load()) std::this_thread::yield();
  });
  ASSERT_EQ(move_process_to_cpus({all.back()}), 0);
  EXPECT_EQ(affinity_of(worker.native_handle()), std::vector<int>{all.back()});
  EXPECT_EQ(allowed_cpus(), std::vector<int>{all.back()}) << "the calling thread too";
  ASSERT_EQ(move_process_to_cpus(all), 0);
  EXPECT_EQ(affinity_of(worker.native_handle()), all);
  EXPECT_EQ(allowed_cpus(), all);
  done = true;
  worker.join();
}

TEST(ProcessCpus, MovingToNoAvailableCpuIsRefusedAndMovesNothing) {
  const std::vector<int> all = allowed_cpus();
  ASSERT_NE(all.back(), 1023) << "needs a machine where CPU 1023 is not available";
  EXPECT_EQ(move_process_to_cpus({1023}), EINVAL);
  EXPECT_EQ(allowed_cpus(), all);
}

TEST(AutoCpuPlacement, StartsTheProcessOnItsLastCpuAndPublishesIt) {
  const std::vector<int> all = allowed_cpus();
  if (all.size() < 2) GTEST_SKIP() << "needs two CPUs";
  auto_cpu_placement placement(all);
  ASSERT_EQ(placement.start_on_one_cpu(), 0);
  EXPECT_EQ(allowed_cpus(), std::vector<int>{all.back()});
  const cpu_placement_snapshot s = current_cpu_placement();
  EXPECT_EQ(s.mode, "auto");
  EXPECT_EQ(s.cpus, std::to_string(all.back()));
  EXPECT_EQ(s.spread_count, 0u);
  ASSERT_EQ(move_process_to_cpus(all), 0);
}

// The runner's loop (app/run_pipeline.cpp samples from its signal wait): a busy thread spreads
// the process within a window, and once quiet it comes back after kNarrowWindowNs (5 s), every
// thread it has following both ways.
TEST(AutoCpuPlacement, SpreadsABusyProcessAndBringsItBackOnceQuiet) {
  const std::vector<int> all = allowed_cpus();
  if (all.size() < 2) GTEST_SKIP() << "needs two CPUs";
  using clock = std::chrono::steady_clock;
  auto_cpu_placement placement(all);
  ASSERT_EQ(placement.start_on_one_cpu(), 0);
  // Samples until `done` holds, at most `limit`, at the runner's cadence (what is under test).
  auto sample_until = [&](auto done, std::chrono::seconds limit) {
    const auto deadline = clock::now() + limit;
    while (!done() && clock::now() < deadline) {
      std::this_thread::sleep_for(placement.sample_interval());
      placement.sample(0);
    }
  };
  std::atomic<bool> quiet{false};
  std::thread busy([&] {
    while (!quiet.load(std::memory_order_relaxed)) {
    }
  });
  sample_until([&] { return placement.cpus_in_use() == all.size(); }, std::chrono::seconds(10));
  ASSERT_EQ(placement.cpus_in_use(), all.size()) << "a whole CPU busy for 10 s did not spread";
  EXPECT_EQ(affinity_of(busy.native_handle()), all);
  EXPECT_EQ(allowed_cpus(), all);
  EXPECT_EQ(current_cpu_placement().spread_count, 1u);
  quiet = true;
  busy.join();
  std::promise<void> idle_stop;
  std::thread idle([stop = idle_stop.get_future()] { stop.wait(); });  // blocked, uses no CPU
  sample_until([&] { return placement.cpus_in_use() == 1; }, std::chrono::seconds(30));
  EXPECT_EQ(placement.cpus_in_use(), 1u) << "30 quiet seconds did not bring it back";
  EXPECT_EQ(affinity_of(idle.native_handle()), std::vector<int>{all.back()});
  EXPECT_EQ(allowed_cpus(), std::vector<int>{all.back()});
  const cpu_placement_snapshot s = current_cpu_placement();
  EXPECT_EQ(s.narrow_count, 1u);
  EXPECT_EQ(s.cpus, std::to_string(all.back()));
  idle_stop.set_value();
  idle.join();
  ASSERT_EQ(move_process_to_cpus(all), 0);
}

}  // namespace
}  // namespace edgepipe
