// When records went into the spool, coarsely: a ring of (end id, time) samples, one per second
// at most, so the status page can tell the age of a sink's oldest unconfirmed record without
// reading the disk. 1024 one-second slots cover 17 minutes; an older record is reported as
// "at least" the oldest slot's age.
// Threading: note() on the spool thread only (one writer); age_of() from any thread. Each slot is
// a tiny seqlock without fences (ThreadSanitizer does not model fences): the writer stores the
// odd sequence, then the data with release stores; a reader loads the data with acquire loads,
// so having seen new data it must also see the odd (or a newer) sequence and retries.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace edgepipe {

class append_clock {
 public:
  static constexpr std::size_t kSlots = 1024;
  static constexpr std::uint64_t kSlotNs = 1'000'000'000;

  /// runs on: spool thread. Records below `end_id` were appended by `now_ns` (monotonic).
  void note(std::uint64_t end_id, std::uint64_t now_ns) noexcept {
    const std::uint64_t n = count_.load(std::memory_order_relaxed);
    if (n != 0) {
      slot& cur = slots_[(n - 1) % kSlots];
      if (now_ns - cur.start_ns.load(std::memory_order_relaxed) < kSlotNs) {
        write(cur, cur.start_ns.load(std::memory_order_relaxed), end_id);
        return;
      }
    }
    write(slots_[n % kSlots], now_ns, end_id);
    count_.store(n + 1, std::memory_order_release);
  }

  struct age {
    std::uint64_t ns = 0;      // 0 when `id` is not below any noted end
    bool lower_bound = false;  // the record is older than what the ring still covers
  };
  /// Any thread: how long ago the record `id` was appended (to within a slot).
  age age_of(std::uint64_t id, std::uint64_t now_ns) const noexcept {
    const std::uint64_t n = count_.load(std::memory_order_acquire);
    const std::uint64_t first = n > kSlots ? n - kSlots : 0;
    age result;
    for (std::uint64_t i = first; i < n; ++i) {  // oldest first: the first slot past `id`
      std::uint64_t start = 0, end = 0;
      if (!read(slots_[i % kSlots], start, end)) continue;
      if (end <= id) continue;
      result.ns = now_ns > start ? now_ns - start : 0;
      // The first slot this run (records recovered from an earlier run) or the oldest slot
      // left in a wrapped ring: the record may be older than its start.
      result.lower_bound = i == first;
      return result;
    }
    return result;
  }

 private:
  struct slot {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> start_ns{0};
    std::atomic<std::uint64_t> end_id{0};
  };
  static void write(slot& s, std::uint64_t start, std::uint64_t end) noexcept {
    const std::uint64_t q = s.seq.load(std::memory_order_relaxed);
    s.seq.store(q + 1, std::memory_order_relaxed);
    s.start_ns.store(start, std::memory_order_release);
    s.end_id.store(end, std::memory_order_release);
    s.seq.store(q + 2, std::memory_order_release);
  }
  static bool read(const slot& s, std::uint64_t& start, std::uint64_t& end) noexcept {
    for (int tries = 0; tries < 4; ++tries) {
      const std::uint64_t q = s.seq.load(std::memory_order_acquire);
      if (q & 1) continue;
      start = s.start_ns.load(std::memory_order_acquire);
      end = s.end_id.load(std::memory_order_acquire);
      if (s.seq.load(std::memory_order_relaxed) == q) return true;
    }
    return false;
  }

  std::array<slot, kSlots> slots_{};
  std::atomic<std::uint64_t> count_{0};
};

}  // namespace edgepipe
