// A latency histogram in the manner of HdrHistogram: each power of two is split into 16 linear
// sub-buckets, so a quantile is the upper bound of a bucket no wider than 1/16 of its lower
// bound (at most 6.25% high, never low: never flattering); values below 16 are exact. Recording
// is a countl_zero, a shift and one relaxed increment; it never allocates. 976 buckets cover the
// whole uint64 range (7.8 KB per histogram; a snapshot kept for a long time is compacted to its
// non-empty buckets, compact_snapshot).
// Threading: one writer thread; any thread may read a snapshot.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <vector>

namespace edgepipe {

class latency_histogram {
 public:
  static constexpr int kSubBucketBits = 4;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;  // per power of two
  /// Values 0..15 exactly, then 16 sub-buckets for each of the powers 2^4 .. 2^63.
  static constexpr int kBuckets = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;
  /// Powers of two (Prometheus exports these coarse buckets: le = 2^i - 1 for i in 0..64).
  static constexpr int kPowers = 65;

  /// runs on: the owning stage thread.
  void record(std::uint64_t value) noexcept { add(value, 1); }
  void add(std::uint64_t value, std::uint64_t count) noexcept {
    const int i = bucket_of(value);
    auto& b = buckets_[static_cast<std::size_t>(i)];
    b.store(b.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
    sum_.store(sum_.load(std::memory_order_relaxed) + value * count, std::memory_order_relaxed);
    // The range of buckets ever used, so readers copy and scan only that (latencies of one
    // stage span a few dozen buckets of the 976).
    if (i < lo_.load(std::memory_order_relaxed)) lo_.store(i, std::memory_order_relaxed);
    if (i > hi_.load(std::memory_order_relaxed)) hi_.store(i, std::memory_order_relaxed);
  }

  static constexpr int bucket_of(std::uint64_t value) noexcept {
    if (value < kSubBuckets) return static_cast<int>(value);
    const int power = 63 - std::countl_zero(value);  // >= kSubBucketBits
    const int shift = power - kSubBucketBits;
    const auto sub = static_cast<int>((value >> shift) & (kSubBuckets - 1));
    return (shift + 1) * kSubBuckets + sub;
  }
  /// Smallest and largest value that fall into bucket i.
  static constexpr std::uint64_t lower_bound(int i) noexcept {
    if (i < kSubBuckets) return static_cast<std::uint64_t>(i);
    const int shift = i / kSubBuckets - 1;
    const auto sub = static_cast<std::uint64_t>(i % kSubBuckets);
    return (std::uint64_t{kSubBuckets} + sub) << shift;
  }
  static constexpr std::uint64_t upper_bound(int i) noexcept {
    if (i < kSubBuckets) return static_cast<std::uint64_t>(i);
    const int shift = i / kSubBuckets - 1;
    return lower_bound(i) + ((std::uint64_t{1} << shift) - 1);
  }
  /// The largest value of power-of-two bucket p (0, 1, 3, 7, ... 2^64 - 1).
  static constexpr std::uint64_t power_upper_bound(int p) noexcept {
    return p >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << p) - 1;
  }

  /// Non-empty buckets only: what a history of snapshots keeps.
  struct compact_snapshot {
    std::vector<std::uint16_t> index;
    std::vector<std::uint64_t> count;
    std::uint64_t sum = 0;
  };

  struct snapshot {
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t sum = 0;  // of all recorded values (for means and Prometheus _sum)
    int lo = kBuckets;      // counts outside [lo, hi] are zero
    int hi = -1;
    std::uint64_t total() const noexcept {
      std::uint64_t t = 0;
      for (int i = lo; i <= hi; ++i) t += counts[static_cast<std::size_t>(i)];
      return t;
    }
    /// q in [0,1]; 0 when empty. The upper bound of the bucket holding the rank.
    std::uint64_t quantile(double q) const noexcept {
      const std::uint64_t n = total();
      if (n == 0) return 0;
      auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n - 1)) + 1;
      std::uint64_t seen = 0;
      for (int i = lo; i <= hi; ++i) {
        seen += counts[static_cast<std::size_t>(i)];
        if (seen >= rank) return upper_bound(i);
      }
      return upper_bound(hi);
    }
    void merge(const snapshot& o) noexcept {
      for (int i = o.lo; i <= o.hi; ++i)
        counts[static_cast<std::size_t>(i)] += o.counts[static_cast<std::size_t>(i)];
      sum += o.sum;
      if (o.lo < lo) lo = o.lo;
      if (o.hi > hi) hi = o.hi;
    }
    /// Counts per power of two: powers[p] holds the values in (2^(p-1) - 1, 2^p - 1].
    std::array<std::uint64_t, kPowers> powers() const noexcept {
      std::array<std::uint64_t, kPowers> out{};
      // Exact values 0..15 first (value v has bit width p), then each power 2^(k+4) is the 16
      // sub-buckets of row k+1 (bit width k+5).
      if (hi < 0) return out;
      for (std::uint64_t v = 0; v < kSubBuckets; ++v)
        out[static_cast<std::size_t>(std::bit_width(v))] += counts[v];
      const auto last_row = static_cast<std::size_t>(hi / kSubBuckets);
      for (auto row = static_cast<std::size_t>(lo / kSubBuckets < 1 ? 1 : lo / kSubBuckets);
           row <= last_row; ++row) {
        std::uint64_t c = 0;
        for (std::size_t k = 0; k < kSubBuckets; ++k) c += counts[row * kSubBuckets + k];
        out[row + kSubBucketBits] += c;
      }
      return out;
    }
    compact_snapshot compact() const {
      compact_snapshot c;
      c.sum = sum;
      for (int i = lo; i <= hi; ++i) {
        const std::uint64_t n = counts[static_cast<std::size_t>(i)];
        if (n == 0) continue;
        c.index.push_back(static_cast<std::uint16_t>(i));
        c.count.push_back(n);
      }
      return c;
    }
    /// This snapshot minus an older one of the same histogram (never below zero).
    snapshot minus(const compact_snapshot& older) const noexcept {
      snapshot d = *this;
      for (std::size_t k = 0; k < older.index.size(); ++k) {
        std::uint64_t& c = d.counts[older.index[k]];
        c = c >= older.count[k] ? c - older.count[k] : 0;
      }
      d.sum = sum >= older.sum ? sum - older.sum : 0;
      return d;
    }
  };

  snapshot read() const noexcept {
    snapshot s;
    s.lo = lo_.load(std::memory_order_relaxed);
    s.hi = hi_.load(std::memory_order_relaxed);
    for (int i = s.lo; i <= s.hi; ++i)
      s.counts[static_cast<std::size_t>(i)] =
          buckets_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<int> lo_{kBuckets};
  std::atomic<int> hi_{-1};
};

}  // namespace edgepipe
