// postgres_cdc_stage without a server: events become records with their stream, and a commit's
// LSN is handed to the source (confirm_durable) only once the spool reported the batch holding
// it and durable_end() passed that batch's end - never earlier.
#include "stages/sources/postgres_cdc/postgres_cdc_stage.hpp"

#include <gtest/gtest.h>

#include <atomic>

namespace edgepipe::pgcdc {
namespace {

struct fixture {
  explicit fixture(std::uint64_t batch_records = 1024) {
    spec.conninfo = "host=unused";
    spec.batch_records = batch_records;
    stage = std::make_unique<postgres_cdc_stage>("pg", 3, spec, 1 << 20, 64, nullptr, pool,
                                                 counters, [this] { return durable.load(); });
  }
  /// One change: `n` events of table `table` (0 value bytes for a tombstone when `tombstone`).
  void change(const std::string& table, int n, bool tombstone = false) {
    byte_arena a;
    std::vector<cdc_event> ev;
    for (int i = 0; i < n; ++i) {
      cdc_event e;
      e.op = tombstone ? 0 : 'c';
      e.topic_off = arena_offset(a.size());
      const std::string topic = "edgepipe.public." + table;
      a.append(topic);
      e.topic_len = static_cast<std::uint32_t>(topic.size());
      e.key_off = arena_offset(a.size());
      a.append(std::string_view("{\"id\":1}"));
      e.key_len = 8;
      if (!tombstone) {
        e.value_off = arena_offset(a.size());
        a.append(std::string_view("{\"op\":\"c\"}"));
        e.value_len = 10;
      }
      ev.push_back(e);
    }
    stage->on_events(a, ev);
  }
  /// Takes what the stage shipped, as the transform would, and "appends" it to the spool.
  record_batch* take(std::uint64_t end_id) {
    record_batch* b = nullptr;
    if (!stage->output().try_pop(b)) return nullptr;
    b->append_observer()->appended(b->ticket(), end_id);
    return b;
  }
  postgres_cdc_spec spec;
  batch_pool<record_batch> pool;
  stage_counters counters{"source:pg"};
  std::atomic<std::uint64_t> durable{0};
  std::unique_ptr<postgres_cdc_stage> stage;
};

lsn_t durable_lsn(const fixture& f) { return f.stage->source().durable_lsn(); }

TEST(PostgresCdcStage, EventsBecomeRecordsWithTheirStreamKeyAndNullValueForTombstones) {
  fixture f;
  f.stage->on_idle();  // nothing yet: nothing shipped
  f.change("orders", 2);
  f.change("orders", 1, /*tombstone=*/true);
  f.change("items", 1);
  f.stage->on_commit(100);
  record_batch* b = f.take(4);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->records().size(), 4u);
  EXPECT_EQ(b->stream(b->records()[0]), "edgepipe.public.orders");
  EXPECT_EQ(b->records()[0].stream, b->records()[2].stream) << "one name per batch and table";
  EXPECT_EQ(b->stream(b->records()[3]), "edgepipe.public.items");
  EXPECT_EQ(b->key(b->records()[2]), "{\"id\":1}");
  EXPECT_EQ(b->records()[2].value_length, 0u);
  EXPECT_EQ(b->value(b->records()[0]), "{\"op\":\"c\"}");
  EXPECT_EQ(b->records()[0].source, 3);
  f.pool.release(b);
}

TEST(PostgresCdcStage, ACommitIsConfirmedOnlyOnceItsBatchIsDurable) {
  fixture f;
  f.change("t", 1);
  f.stage->on_commit(100);  // the ring was empty: shipped at the commit
  record_batch* b = f.take(10);
  ASSERT_NE(b, nullptr);
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 0u) << "appended but not synced: nothing confirmed";
  f.durable = 9;
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 0u) << "synced up to 9 < the batch's end 10";
  f.durable = 10;
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 100u);
  f.pool.release(b);
}

TEST(PostgresCdcStage, ALargeTransactionStreamsInFullBatchesAndIsConfirmedAfterItsLast) {
  fixture f(/*batch_records=*/2);
  f.change("t", 2);  // full: shipped mid-transaction
  record_batch* b1 = f.take(2);
  ASSERT_NE(b1, nullptr);
  f.change("t", 1);
  f.durable = 2;
  f.stage->on_idle();  // ships the third event (still no commit)
  record_batch* b2 = f.take(3);
  ASSERT_NE(b2, nullptr);
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 0u) << "no commit yet";
  f.stage->on_commit(200);  // every event already shipped: the commit waits for batch 2
  EXPECT_EQ(durable_lsn(f), 0u);
  f.durable = 3;
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 200u);
  // A transaction with no event for us (a skipped table) is confirmed with what came before.
  f.stage->on_commit(300);
  EXPECT_EQ(durable_lsn(f), 300u);
  f.pool.release(b1);
  f.pool.release(b2);
}

TEST(PostgresCdcStage, UnderSteadyLoadTheNewestBatchDoesNotStarveConfirmations) {
  fixture f;
  lsn_t lsn = 0;
  std::uint64_t end = 0;
  for (int i = 0; i < 50; ++i) {
    f.change("t", 1);
    f.stage->on_commit(lsn += 10);
    record_batch* b = f.take(end += 1);
    ASSERT_NE(b, nullptr);
    f.durable = end - 1;  // the spool's sync always one batch behind the newest append
    f.stage->on_idle();
    f.pool.release(b);
  }
  EXPECT_GT(durable_lsn(f), 0u);
  EXPECT_LT(durable_lsn(f), lsn) << "the newest commit is not synced yet";
}

TEST(PostgresCdcStage, ASnapshotIsConfirmedAtItsConsistentPointOnlyOnceItsRowsAreDurable) {
  // What lets the source remove its snapshot marker (snapshot_marker.hpp): the snapshot's rows
  // have no commit of their own; on_snapshot_done stands for one at the consistent point.
  fixture f;
  f.change("t", 3);
  f.stage->on_snapshot_done(500);
  record_batch* b = f.take(3);
  ASSERT_NE(b, nullptr);
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 0u) << "the rows are appended but not synced";
  f.durable = 3;
  f.stage->on_idle();
  EXPECT_EQ(durable_lsn(f), 500u);
  f.pool.release(b);
}

}  // namespace
}  // namespace edgepipe::pgcdc
