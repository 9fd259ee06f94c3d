// Memory stays within its byte budgets and is given back when idle (issue 21 item 2): the batch
// pools' free lists, the io_uring writer's buffers (allocated on demand, trimmed), the idle
// trimmer thread. Sizes only: no timing is asserted (waits have deadlines).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "io/uring_file_writer.hpp"
#include "stages/pipeline/memory_trimmer.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

record_batch* filled(batch_pool<record_batch>& pool, std::size_t bytes) {
  record_batch* b = pool.acquire();
  std::string s(bytes, 'x');
  b->arena().append(s);
  b->records().resize(16);
  return b;
}

TEST(BatchPoolBudget, TheFreeListNeverHoldsMoreThanItsBudgetAndTrimEmptiesIt) {
  constexpr std::size_t kBudget = std::size_t{1} << 20;
  batch_pool<record_batch> pool(std::size_t{8} << 20, kBudget);
  std::mt19937 rng(3);
  std::vector<record_batch*> held;
  for (int round = 0; round < 200; ++round) {
    // Take a few of various sizes, give some back: the free list stays within its budget.
    for (int i = 0; i < 4; ++i) held.push_back(filled(pool, 1 + rng() % (300 * 1024)));
    while (held.size() > 2) {
      pool.release(held.back());
      held.pop_back();
      ASSERT_LE(pool.free_bytes(), kBudget);
    }
  }
  for (record_batch* b : held) pool.release(b);
  EXPECT_LE(pool.free_bytes(), kBudget);
  EXPECT_GT(pool.free_batches(), 0u);
  EXPECT_GT(pool.freed(), 0u);  // some went over the budget and were freed
  const std::size_t before = pool.free_bytes();
  EXPECT_EQ(pool.trim(), before);
  EXPECT_EQ(pool.free_bytes(), 0u);
  EXPECT_EQ(pool.free_batches(), 0u);
  // Still usable after a trim.
  record_batch* b = filled(pool, 1000);
  EXPECT_EQ(b->arena().size(), 1000u);
  pool.release(b);
}

TEST(BatchPoolBudget, AZeroBudgetKeepsNothing) {
  batch_pool<payload_batch> pool(std::size_t{8} << 20, 0);
  payload_batch* b = pool.acquire();
  b->add("{}", 0, 200, 0, 0);
  pool.release(b);
  EXPECT_EQ(pool.free_batches(), 0u);
  EXPECT_EQ(pool.free_bytes(), 0u);
}

TEST(WriterBuffers, AllocatedAsNeededNeverAboveTheBudgetAndTrimmedWhenIdle) {
  temp_dir dir;
  const std::string path = dir / "out.bin";
  uring_file_writer w;
  uring_file_writer_options o;
  o.buffer_bytes = 64 * 1024;
  o.buffers = 8;
  const std::size_t budget = o.buffers * o.buffer_bytes;
  ASSERT_TRUE(w.open(path, o).is_ok());
  EXPECT_EQ(w.buffer_bytes_allocated(), 0u);  // nothing before the first write
  std::string expected;
  // A light load: small writes, each flushed and waited for, reuse the same buffer or two.
  for (int i = 0; i < 50; ++i) {
    const std::string s = "line " + std::to_string(i) + "\n";
    ASSERT_TRUE(w.write(s));
    expected += s;
    ASSERT_TRUE(w.flush().is_ok());
  }
  EXPECT_LE(w.buffer_bytes_allocated(), 2 * o.buffer_bytes);
  // A burst: many full buffers; never more than the budget.
  std::mt19937 rng(5);
  for (int i = 0; i < 400; ++i) {
    std::string s(1 + rng() % 40000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(w.write(s));
    expected += s;
    ASSERT_LE(w.buffer_bytes_allocated(), budget);
    if (i % 37 == 0) {
      ASSERT_TRUE(w.start_sync().is_ok());
    }
  }
  ASSERT_TRUE(w.flush().is_ok());
  ASSERT_TRUE(w.poll_sync(true).is_ok());
  EXPECT_GT(w.trim(), 0u);
  EXPECT_EQ(w.buffer_bytes_allocated(), 0u);  // flushed: every buffer was free
  // Writing goes on after a trim, and the file has every byte in order.
  ASSERT_TRUE(w.write("tail\n"));
  expected += "tail\n";
  ASSERT_TRUE(w.close().is_ok());
  EXPECT_EQ(testing::read_file(path), expected);
}

TEST(WriterBuffers, TrimKeepsABufferThatHoldsData) {
  temp_dir dir;
  const std::string path = dir / "out.bin";
  uring_file_writer w;
  uring_file_writer_options o;
  o.buffer_bytes = 64 * 1024;
  ASSERT_TRUE(w.open(path, o).is_ok());
  ASSERT_TRUE(w.write("not flushed yet\n"));
  EXPECT_EQ(w.trim(), 0u);
  EXPECT_EQ(w.buffer_bytes_allocated(), o.buffer_bytes);
  ASSERT_TRUE(w.close().is_ok());
  EXPECT_EQ(testing::read_file(path), "not flushed yet\n");
}

TEST(MemoryTrimmer, AnIdlePipelinesPoolsAreEmptiedOnce) {
  batch_pool<payload_batch> payloads;
  batch_pool<record_batch> records;
  std::vector<record_batch*> taken;
  for (int i = 0; i < 4; ++i) taken.push_back(filled(records, 100 * 1024));
  for (record_batch* b : taken) records.release(b);
  const std::size_t held = records.free_bytes();
  ASSERT_GE(held, 400u * 1024);
  memory_trimmer trimmer(20'000'000, payloads, records);  // 20 ms idle
  trimmer.start();
  ASSERT_TRUE(testing::wait_until([&] { return trimmer.trims() >= 1; }));
  EXPECT_EQ(records.free_bytes(), 0u);
  EXPECT_EQ(trimmer.pool_bytes_freed(), held);
  trimmer.stop();
  EXPECT_EQ(trimmer.trims(), 1u);  // one trim per idle period: nothing was taken since
}

TEST(MemoryTrimmer, ZeroIdleTrimMeansNever) {
  batch_pool<payload_batch> payloads;
  batch_pool<record_batch> records;
  records.release(filled(records, 1000));
  memory_trimmer trimmer(0, payloads, records);
  trimmer.start();
  trimmer.stop();
  EXPECT_EQ(trimmer.trims(), 0u);
  EXPECT_GT(records.free_bytes(), 0u);
}

}  // namespace
}  // namespace edgepipe
