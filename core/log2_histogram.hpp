// A latency histogram with one bucket per power of two: recording is a countl_zero and one
// relaxed increment, it never allocates, and quantiles are good to a factor of two (we report
// the bucket's upper bound, i.e. never flattering).
// Threading: one writer thread; any thread may read a snapshot.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace edgepipe {

class log2_histogram {
 public:
  static constexpr int kBuckets = 64;

  /// runs on: the owning stage thread.
  void record(std::uint64_t value) noexcept { add(value, 1); }
  void add(std::uint64_t value, std::uint64_t count) noexcept {
    auto& b = buckets_[static_cast<std::size_t>(bucket_of(value))];
    b.store(b.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
    sum_.store(sum_.load(std::memory_order_relaxed) + value * count, std::memory_order_relaxed);
  }

  static int bucket_of(std::uint64_t value) noexcept {
    return value == 0 ? 0 : 64 - std::countl_zero(value);
  }
  /// Largest value that falls into bucket i.
  static std::uint64_t upper_bound(int i) noexcept {
    return i == 0 ? 0 : (i >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << i) - 1);
  }

  struct snapshot {
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t sum = 0;  // of all recorded values (for means and Prometheus _sum)
    std::uint64_t total() const noexcept {
      std::uint64_t t = 0;
      for (auto c : counts) t += c;
      return t;
    }
    /// q in [0,1]; 0 when empty.
    std::uint64_t quantile(double q) const noexcept {
      const std::uint64_t n = total();
      if (n == 0) return 0;
      auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n - 1)) + 1;
      std::uint64_t seen = 0;
      for (int i = 0; i < kBuckets; ++i) {
        seen += counts[static_cast<std::size_t>(i)];
        if (seen >= rank) return upper_bound(i);
      }
      return upper_bound(kBuckets - 1);
    }
    void merge(const snapshot& o) noexcept {
      for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
      sum += o.sum;
    }
  };

  snapshot read() const noexcept {
    snapshot s;
    for (std::size_t i = 0; i < buckets_.size(); ++i)
      s.counts[i] = buckets_[i].load(std::memory_order_relaxed);
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_{0};
};

}  // namespace edgepipe
