// The /api/status document (docs/operations.md, "Status page"): one JSON object with every
// source, the transform, the ring edges, the spool, every sink, latency percentiles and the
// last dead letters. Built on request from the same relaxed counters /metrics reads -- nothing
// is added to the hot path -- plus a short history of samples kept here (at most two per
// second, five minutes) for rates and windowed percentiles.
// Threading: json() runs on the HTTP server's thread (a mutex guards the history); the
// pipeline's stages run on; every value read is an atomic or fixed after build().
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/latency_histogram.hpp"
#include "core/stage_counters.hpp"

namespace edgepipe {

class pipeline;

class status_report {
 public:
  /// `mode`: "run", "replay" or "record", shown on the page.
  status_report(const pipeline& p, std::string mode);
  /// runs on: the HTTP thread. One /api/status document.
  std::string json();

  static constexpr std::uint64_t kMinSampleGapNs = 500'000'000;
  static constexpr std::uint64_t kHistoryNs = 300'000'000'000;  // five minutes

 private:
  struct sample {
    std::uint64_t mono_ns = 0;
    std::vector<std::uint64_t> values;  // one per entry of counters_, same order
    // Histograms as they were then (non-empty buckets only: a full snapshot is 7.8 KB).
    latency_histogram::compact_snapshot latency;  // all sinks merged
    latency_histogram::compact_snapshot fsync;
  };
  /// The counters of a sample (the histograms are added when it joins the history).
  sample take_sample() const;
  /// Every sink's delivery latency, merged.
  latency_histogram::snapshot latency_now() const;
  /// A sink's latency to show: received -> confirmed with the spool, else received -> handed.
  const latency_histogram& delivery_latency(const stage_counters& c) const noexcept {
    return has_spool_ ? c.confirm_latency_ns : c.latency_ns;
  }
  /// The newest sample at least `age_ns` older than `now` (else the oldest; null when none).
  const sample* reference(std::uint64_t now, std::uint64_t age_ns) const;

  /// The counter named `key` in `s` (0 when unknown or no sample).
  std::uint64_t value(const sample* s, const std::string& key) const;

  const pipeline& p_;
  bool has_spool_ = false;
  std::string mode_;
  // The counters sampled for rates, fixed once the pipeline is built: "<stage>.in|out|failed",
  // "payloads", "src:<name>.payloads|records" (a flat vector per sample, no map per request).
  std::vector<const counter*> counters_;
  std::unordered_map<std::string, std::size_t> index_;
  std::uint64_t started_mono_ns_;
  std::mutex mutex_;
  std::deque<sample> history_;
  // The "dead_letters" member as last written, and the dead-letter total it was written at
  // (entries only change when the total does): most documents reuse it as it is.
  std::string dead_letters_json_;
  std::uint64_t dead_letters_total_ = 0;
};

}  // namespace edgepipe
