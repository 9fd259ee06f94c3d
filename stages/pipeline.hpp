// Wires a validated pipeline_config into running stages: replay source -> transform -> one ring
// per sink (+ the dead-letter sink), and reports counters. Stop means drain: the source stops
// reading, and everything already read flows through to the sinks before the threads end.
// Threading: build/start/request_stop/join/report run on the main thread; stages run on their
// own named threads (src:replay, src:http, transform, spool, sink:<name>, sink:dead-lettr).
// With a [spool] dir, the transform feeds the spool thread and every sink reads the spool with
// its own cursor (docs/durability.md); without one, the transform fans out to the sinks' rings.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/pipeline_config.hpp"
#include "core/batch_pool.hpp"
#include "core/stage_counters.hpp"
#include "stages/http_poll_source.hpp"
#include "stages/replay_source.hpp"
#include "stages/report/dead_letter_log.hpp"
#include "stages/sink_stage.hpp"
#include "stages/spool_stage.hpp"
#include "stages/transform_stage.hpp"

namespace edgepipe {

class pipeline {
 public:
  explicit pipeline(pipeline_config config);
  ~pipeline();
  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;

  /// Compiles transforms, opens the trace and every sink. Nothing runs yet.
  status build();
  /// Starts all threads. `on_finished` is called (on a stage thread) when the last one ends.
  void start(std::function<void()> on_finished = {});
  /// Asks the source to stop reading; the rest drains. Safe to call more than once.
  void request_stop() noexcept;
  /// Shutdown deadline passed: sinks stop waiting for their destinations and end promptly;
  /// what they have not confirmed stays in the spool for the next start.
  void abandon_delivery() noexcept;
  bool spooled() const noexcept { return spool_ != nullptr; }
  bool finished() const noexcept;
  void join();

  /// One JSON object: payloads, records, rejected, delivered per sink, seconds, latency...
  std::string summary_json(double seconds) const;
  /// Per-stage counters, one JSON object per line.
  std::string counters_report() const;

  const counter_registry& counters() const noexcept { return registry_; }
  /// Prometheus text exposition of every counter (for /metrics).
  std::string prometheus_text() const;
  /// Empty when ready; otherwise why not (for /health).
  std::string not_ready_reason() const;

 private:
  friend class status_report;  // stages/report/status_json: reads the counters below
  pipeline_config config_;
  std::vector<std::string> source_names_;
  counter_registry registry_;
  std::atomic<bool> stop_{false};
  std::atomic<int> running_{0};
  std::function<void()> on_finished_;

  batch_pool<payload_batch> payload_pool_;
  batch_pool<record_batch> record_pool_;
  waiter transform_input_waiter_;  // shared by every source ring (one consumer)
  std::unique_ptr<ring_edge<payload_batch*>> replay_ring_;
  std::unique_ptr<replay_source> replay_;
  std::unique_ptr<ring_edge<payload_batch*>> http_ring_;
  std::unique_ptr<http_poll_source> http_;
  std::unique_ptr<transform_engine> engine_;
  std::unique_ptr<transform_stage> transform_;
  std::unique_ptr<spool> spool_;
  std::unique_ptr<spool_stage> spool_stage_;
  std::vector<std::unique_ptr<sink_stage>> sinks_;
  dead_letter_log dead_letter_log_;  // the last dead letters, for the status page
  std::unique_ptr<sink_stage> dead_letters_;
  std::vector<std::thread> threads_;
};

}  // namespace edgepipe
