// The sink stage's reading of the spool: when its cursor counts as stuck, and whether it polls a
// steady input (not on one CPU).
#include "stages/sinks/sink_stage.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <memory>
#include <thread>

#include "core/batch_pool.hpp"
#include "platform/thread.hpp"

namespace edgepipe {
namespace {

class null_sink final : public sink {
 public:
  const std::string& name() const override { return name_; }
  status open() override { return status::ok(); }
  void write(const record_batch&, stage_counters&) override {}
  void flush(stage_counters&) override {}
  status close() override { return status::ok(); }

 private:
  std::string name_ = "null";
};

/// Whether a sink stage built on a thread confined to `cpus` (as the main thread is by
/// [pipeline] cpus) polls a steady input.
bool polls_when_built_on(const std::vector<int>& cpus) {
  bool polls = false;
  std::thread([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (const int cpu : cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
    batch_pool<record_batch> pool;
    stage_counters counters("sink:null");
    sink_stage stage(std::make_unique<null_sink>(), 4, pool, counters,
                     std::chrono::milliseconds(100));
    polls = stage.polls_steady_input();
  }).join();
  return polls;
}

TEST(SinkStage, PollsASteadyInputOnlyWhenTheProcessHasTwoCpusOrMore) {
  const std::vector<int> cpus = allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  // On one CPU polling would take it from the threads that produce the next frame.
  EXPECT_FALSE(polls_when_built_on({cpus.front()}));
  if (cpus.size() < 2) GTEST_SKIP() << "this machine lets the test run on one CPU only";
  EXPECT_TRUE(polls_when_built_on({cpus[0], cpus[1]}));
}

TEST(SinkStage, AFrameCommittedAfterTheReadBeganIsNotAStuckCursor) {
  // The cursor read up to the committed end (100) and found nothing more; the spool then
  // committed frame 100. That frame is read on the next pass: no retry wait (it used to sleep
  // 50 ms, the paced p99 spikes of benchmarks/README.md).
  EXPECT_FALSE(sink_stage::cursor_stuck(100, 100, 101));
  EXPECT_FALSE(sink_stage::cursor_stuck(100, 100, 100));  // caught up, nothing new
}

TEST(SinkStage, CommittedRecordsTheCursorCouldNotReadAreAStuckCursor) {
  // Records up to 110 were committed when the read began and the cursor still stands at 100.
  EXPECT_TRUE(sink_stage::cursor_stuck(100, 110, 110));
  EXPECT_TRUE(sink_stage::cursor_stuck(100, 110, 120));
}

TEST(SinkStage, AVisibleEndHeldBackSinceTheReadBeganIsNotAStuckCursor) {
  // After a disk error the spool holds its visible end back at what is durable (100): the
  // cursor waits for the retry like any caught-up reader, not as a stuck one.
  EXPECT_FALSE(sink_stage::cursor_stuck(100, 110, 100));
}

}  // namespace
}  // namespace edgepipe
