// resend_filter: after a restart or reconnection the slot sends again every transaction since
// its confirmed position; those up to the last change edgepipe holds are skipped, nothing after
// it. And position_of_event reads that position back from an event value the spool holds.
#include "stages/sources/postgres_cdc/resend_filter.hpp"

#include <gtest/gtest.h>

namespace edgepipe::pgcdc {
namespace {

// Transactions in commit order: (final_lsn = commit record LSN, end = commit end, xid).
// T1: 100..110 end 120, xid 7;  T2: 130..140 end 150, xid 8;  T3: 160..170 end 180, xid 9.
TEST(ResendFilter, TransactionsBeforeThePositionAreSkippedWholeAndItsOwnUpToItsChange) {
  resend_filter f;
  // Held: T2's change at 132 (T2 has changes 131, 132, 133), the commit before T2 ended at 120.
  f.arm({/*previous_commit_end=*/120, /*xid=*/8, /*lsn=*/132});
  f.begin(110, 7);  // T1 again
  EXPECT_TRUE(f.skip(101));
  EXPECT_TRUE(f.skip(105));
  f.commit();
  f.begin(140, 8);  // T2 again: cut mid-way by the crash
  EXPECT_TRUE(f.skip(131));
  EXPECT_TRUE(f.skip(132));
  EXPECT_FALSE(f.skip(133)) << "after the held change: new";
  f.commit();
  EXPECT_FALSE(f.armed()) << "past the position";
  f.begin(170, 9);
  EXPECT_FALSE(f.skip(161));
}

TEST(ResendFilter, AnUnexpectedTransactionAtThePositionEndsFilteringRatherThanSkipIt) {
  resend_filter f;
  f.arm({120, 8, 132});
  f.begin(140, 99);  // not T2: whatever this is, it was not held
  EXPECT_FALSE(f.skip(131));
  EXPECT_FALSE(f.armed());
}

TEST(ResendFilter, AStreamThatStartsAfterThePositionSkipsNothing) {
  resend_filter f;
  f.arm({120, 8, 140});  // T2 held whole and confirmed: the slot resumes after it
  f.begin(170, 9);
  EXPECT_FALSE(f.skip(161));
  EXPECT_FALSE(f.armed());
}

TEST(ResendFilter, APositionWithoutAPreviousCommitIsNotUsed) {
  resend_filter f;
  f.arm({0, 8, 132});
  EXPECT_FALSE(f.armed());
  f.begin(110, 7);
  EXPECT_FALSE(f.skip(101));
}

TEST(PositionOfEvent, ReadsSequenceTxIdAndLsnFromTheSourceObject) {
  // A column named like the source's fields, with a value holding the source's text (escaped
  // inside a string), must not be taken for it.
  const std::string value =
      R"({"before":null,"after":{"id":1,"lsn":5,"txId":6,"note":"\"source\":{\"version\":\"x\",\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\""},)"
      R"("source":{"version":"3.6.1.Final","connector":"postgresql","name":"edgepipe","ts_ms":1,)"
      R"("snapshot":"false","db":"edgepipe","sequence":"[\"24023128\",\"24023296\"]","ts_us":1,)"
      R"("ts_ns":1,"schema":"public","table":"t","txId":771,"lsn":24023296,"xmin":null,)"
      R"("origin":null,"origin_lsn":null},"transaction":null,"op":"c","ts_ms":1})";
  const auto p = position_of_event(value);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->previous_commit_end, 24023128u);
  EXPECT_EQ(p->xid, 771u);
  EXPECT_EQ(p->lsn, 24023296u);
}

TEST(PositionOfEvent, SnapshotRowsTombstonesAndOtherTextHaveNone) {
  EXPECT_FALSE(position_of_event("").has_value()) << "tombstone";
  EXPECT_FALSE(position_of_event(R"({"id":1})").has_value());
  // A snapshot row: sequence [null,"lsn"], txId null.
  EXPECT_FALSE(
      position_of_event(R"({"before":null,"after":{"id":1},"source":{"version":"3.6.1.Final",)"
                        R"("sequence":"[null,\"100\"]","txId":null,"lsn":100},"op":"r"})")
          .has_value());
}

}  // namespace
}  // namespace edgepipe::pgcdc
