#include "core/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/ring_edge.hpp"
#include "core/waiter.hpp"

namespace edgepipe {
namespace {

TEST(SpscRing, RoundsCapacityUpAndReportsFullAndEmpty) {
  spsc_ring<int> ring(5);
  EXPECT_EQ(ring.capacity(), 8u);
  int out = 0;
  EXPECT_FALSE(ring.try_pop(out));
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(ring.try_push(i));
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size_approx(), 8u);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, i);
  }
  EXPECT_FALSE(ring.try_pop(out));
}

TEST(SpscRing, WrapsAroundManyTimesInOrder) {
  spsc_ring<std::uint64_t> ring(4);
  std::uint64_t next_in = 0, next_out = 0, v = 0;
  for (int round = 0; round < 1000; ++round) {
    while (ring.try_push(next_in)) ++next_in;
    while (ring.try_pop(v)) ASSERT_EQ(v, next_out++);
  }
  EXPECT_EQ(next_in, next_out);
}

/// Two threads, a tiny ring so both sides block often: every value arrives once, in order.
void two_threads_deliver_everything_in_order() {
  constexpr std::uint64_t kCount = 200'000;
  ring_edge<std::uint64_t> edge(4);
  std::thread producer([&] {
    for (std::uint64_t i = 1; i <= kCount; ++i) ASSERT_TRUE(edge.push(i));
    edge.close();
  });
  std::uint64_t expected = 1, v = 0, sum = 0;
  while (edge.pop(v)) {
    ASSERT_EQ(v, expected++);
    sum += v;
  }
  producer.join();
  EXPECT_EQ(expected, kCount + 1);
  EXPECT_EQ(sum, kCount * (kCount + 1) / 2);
}

/// Waits block at once while it lives (the process on one CPU), as [pipeline] cpus sets it.
struct no_spinning {
  no_spinning() { waiter::set_spinning(false); }
  ~no_spinning() { waiter::set_spinning(true); }
};

// Run under ThreadSanitizer in CI.
TEST(RingEdge, StressTwoThreadsDeliversEverythingInOrder) {
  two_threads_deliver_everything_in_order();
}

// Every wait goes straight to the futex: no wake-up may be lost without the spin to cover it.
TEST(RingEdge, StressTwoThreadsWithoutSpinningDeliversEverythingInOrder) {
  const no_spinning blocking;
  two_threads_deliver_everything_in_order();
}

TEST(Waiter, WithoutSpinningATrueConditionReturnsAtOnceAndAFalseOneTimesOut) {
  const no_spinning blocking;
  waiter w;
  EXPECT_TRUE(w.wait([] { return true; }, std::chrono::milliseconds(0)));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.wait([] { return false; }, std::chrono::milliseconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(5));
}

TEST(RingEdge, FullRingCountsStallsAndBlocksUntilSpace) {
  ring_edge<int> edge(2);
  ASSERT_TRUE(edge.push(1));
  ASSERT_TRUE(edge.push(2));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    ASSERT_TRUE(edge.push(3));  // blocks: ring is full
    pushed = true;
  });
  // The producer must be stuck until we pop: wait until the stall is counted.
  while (edge.stalls() == 0) std::this_thread::yield();
  EXPECT_FALSE(pushed.load());
  int v = 0;
  ASSERT_TRUE(edge.pop(v));
  EXPECT_EQ(v, 1);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(edge.stalls(), 1u);
}

TEST(RingEdge, PopTimesOutWhenIdleAndEndsWhenClosed) {
  ring_edge<int> edge(4);
  int v = 0;
  bool timed_out = false;
  EXPECT_FALSE(edge.pop(v, std::chrono::milliseconds(5), &timed_out));
  EXPECT_TRUE(timed_out);
  ASSERT_TRUE(edge.push(7));
  edge.close();
  ASSERT_TRUE(edge.pop(v));
  EXPECT_EQ(v, 7);
  EXPECT_FALSE(edge.pop(v, std::chrono::milliseconds(5), &timed_out));
  EXPECT_FALSE(timed_out);
}

TEST(RingEdge, AbandonUnblocksAStuckProducer) {
  ring_edge<int> edge(2);
  ASSERT_TRUE(edge.push(1));
  ASSERT_TRUE(edge.push(2));
  std::thread producer([&] { EXPECT_FALSE(edge.push(3)); });
  while (edge.stalls() == 0) std::this_thread::yield();
  edge.abandon();
  producer.join();
}

}  // namespace
}  // namespace edgepipe
