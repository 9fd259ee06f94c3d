// Counters every stage has, owned by the runtime (not by the stage), so all stages report the
// same way. Each counter has one writing thread; increments are relaxed load+store (no lock
// prefix); readers take snapshots from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "core/latency_histogram.hpp"

namespace edgepipe {

class counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// For counters bumped by more than one thread (rare; e.g. delivery callbacks).
  void add_shared(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

/// A value that goes up and down (e.g. messages in flight); one writer, any reader.
class gauge {
 public:
  void set(std::uint64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct stage_counters {
  explicit stage_counters(std::string stage_name) : name(std::move(stage_name)) {}
  const std::string name;
  counter batches_in;
  counter records_in;
  counter records_out;
  counter rejected;  // sent to the dead-letter sink
  counter filtered;  // dropped on purpose by a transform filter
  counter failed;    // a sink could not deliver
  counter bytes_in;
  counter bytes_out;
  counter ring_stalls;             // pushes that found the downstream ring full and had to wait
  counter retries;                 // sinks: records sent again after a transient failure
  counter duplicates;              // sinks: records the destination already held (a resend),
                                   // counted delivered and not stored again
  gauge in_flight;                 // sinks: handed to the destination, not yet confirmed
  gauge transactions_open;         // exactly-once Kafka sinks: open transactions (0-2)
  counter transactions_committed;  // exactly-once Kafka sinks
  counter transactions_aborted;    // exactly-once Kafka sinks: their records are sent again
  latency_histogram latency_ns;    // sinks: payload received -> record handed to the sink
  latency_histogram confirm_latency_ns;  // sinks with the spool: payload received -> the sink
                                         // confirmed it (delivered or dead-lettered)
};

/// The runtime's list of per-stage counters; stable addresses (deque) so stages keep pointers.
class counter_registry {
 public:
  stage_counters& add(std::string name) {
    std::lock_guard lock(mutex_);
    return stages_.emplace_back(std::move(name));
  }
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& s : stages_) f(s);
  }
  const stage_counters* find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& s : stages_)
      if (s.name == name) return &s;
    return nullptr;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<stage_counters> stages_;
};

}  // namespace edgepipe
