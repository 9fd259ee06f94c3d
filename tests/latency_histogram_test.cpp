#include "core/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <random>
#include <vector>

namespace edgepipe {
namespace {

using H = latency_histogram;

TEST(LatencyHistogram, BucketsTileTheWholeRangeWithoutGapsOrOverlaps) {
  EXPECT_EQ(H::lower_bound(0), 0u);
  for (int i = 1; i < H::kBuckets; ++i)
    ASSERT_EQ(H::lower_bound(i), H::upper_bound(i - 1) + 1) << "bucket " << i;
  EXPECT_EQ(H::upper_bound(H::kBuckets - 1), ~std::uint64_t{0});
  for (int i = 0; i < H::kBuckets; ++i) {
    ASSERT_EQ(H::bucket_of(H::lower_bound(i)), i);
    ASSERT_EQ(H::bucket_of(H::upper_bound(i)), i);
  }
}

TEST(LatencyHistogram, EveryBucketIsWithinOneSixteenthOfItsLowerBound) {
  for (int i = 0; i < H::kBuckets; ++i) {
    const auto lo = static_cast<double>(H::lower_bound(i));
    const auto hi = static_cast<double>(H::upper_bound(i));
    if (i < H::kSubBuckets) {
      EXPECT_EQ(lo, hi);  // small values are exact
    } else {
      EXPECT_LE((hi - lo) / lo, 1.0 / 16) << "bucket " << i;
    }
  }
}

TEST(LatencyHistogram, QuantilesAreWithinTenPercentAndNeverLow) {
  // 100,000 latencies spread over 1 us .. 50 ms (log-uniform), compared with the exact order
  // statistics.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(3.0, 7.7);
  std::vector<std::uint64_t> values;
  H h;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  const H::snapshot s = h.read();
  EXPECT_EQ(s.total(), values.size());
  for (double q : {0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
    const auto exact = static_cast<double>(values[rank]);
    const auto reported = static_cast<double>(s.quantile(q));
    EXPECT_GE(reported, exact) << "q=" << q;
    EXPECT_LE(reported, exact * 1.10) << "q=" << q;
  }
}

TEST(LatencyHistogram, ACompactSnapshotSubtractsToTheWindowBetweenTwoReads) {
  H h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);
  const H::compact_snapshot before = h.read().compact();
  EXPECT_LT(before.index.size(), 200u);  // only non-empty buckets are kept
  for (int i = 0; i < 50; ++i) h.record(5'000'000);
  const H::snapshot window = h.read().minus(before);
  EXPECT_EQ(window.total(), 50u);
  EXPECT_EQ(window.sum, 50u * 5'000'000);
  EXPECT_GE(window.quantile(0.5), 5'000'000u);
  EXPECT_LE(window.quantile(0.5), 5'000'000u * 17 / 16);
}

TEST(LatencyHistogram, PowersOfTwoCountEveryValueOnceForPrometheus) {
  H h;
  const std::uint64_t samples[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 1000, 1023, 1024, 1u << 30};
  for (std::uint64_t v : samples) h.record(v);
  const auto powers = h.read().powers();
  std::uint64_t total = 0;
  for (std::uint64_t c : powers) total += c;
  EXPECT_EQ(total, std::size(samples));
  EXPECT_EQ(powers[0], 1u);   // 0
  EXPECT_EQ(powers[1], 1u);   // 1
  EXPECT_EQ(powers[2], 2u);   // 2, 3
  EXPECT_EQ(powers[3], 2u);   // 4, 7
  EXPECT_EQ(powers[4], 2u);   // 8, 15
  EXPECT_EQ(powers[5], 2u);   // 16, 17
  EXPECT_EQ(powers[10], 2u);  // 1000, 1023
  EXPECT_EQ(powers[11], 1u);  // 1024
  EXPECT_EQ(powers[31], 1u);  // 2^30
}

TEST(LatencyHistogram, MergedSnapshotsKeepEveryCountWhateverTheirRanges) {
  H fast;
  H slow;
  for (int i = 0; i < 90; ++i) fast.record(3);  // exact buckets
  for (int i = 0; i < 10; ++i) slow.record(40'000'000);
  H::snapshot all = H{}.read();
  EXPECT_EQ(all.total(), 0u);
  EXPECT_EQ(all.quantile(0.99), 0u);
  all.merge(slow.read());
  all.merge(fast.read());
  EXPECT_EQ(all.total(), 100u);
  EXPECT_EQ(all.quantile(0.5), 3u);
  EXPECT_GE(all.quantile(0.95), 40'000'000u);
  EXPECT_EQ(all.powers()[2], 90u);
  EXPECT_EQ(all.powers()[26], 10u);  // 2^25 <= 40e6 < 2^26
}

}  // namespace
}  // namespace edgepipe
