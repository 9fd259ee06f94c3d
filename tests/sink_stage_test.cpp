// The sink stage's reading of the spool: when its cursor counts as stuck.
#include "stages/sinks/sink_stage.hpp"

#include <gtest/gtest.h>

namespace edgepipe {
namespace {

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
