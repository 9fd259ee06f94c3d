// Wires a validated pipeline_config into running stages: replay source -> transform -> one ring
// per sink (+ the dead-letter sink). What it reports (summary, /metrics, /health) is built by
// stages/report/ from the read-only accessors below. Stop means drain: the source stops
// reading, and everything already read flows through to the sinks before the threads end.
// Threading: build/start/request_stop/join/report run on the main thread; stages run on their
// own named threads (src:replay, src:http, src:pgcdc, transform, spool, sink:<name>,
// sink:dead-lettr, and mem:trim, which gives memory back when idle). With a [spool] dir, the
// transform feeds the spool thread and every sink reads the spool with its own cursor
// (docs/durability.md); without one, the transform fans out to the sinks' rings.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/pipeline_config.hpp"
#include "core/batch_pool.hpp"
#include "core/stage_counters.hpp"
#include "stages/pipeline/memory_trimmer.hpp"
#include "stages/sinks/dead_letter_log.hpp"
#include "stages/sinks/sink_stage.hpp"
#include "stages/sources/http_poll_source.hpp"
#include "stages/sources/postgres_cdc/postgres_cdc_stage.hpp"
#include "stages/sources/replay_source.hpp"
#include "stages/spool/spool_stage.hpp"
#include "stages/transform/transform_stage.hpp"

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
  /// When start() started the sources: the sinks had started up (or kStartWait passed) by then.
  /// runs on: main thread, after start().
  std::chrono::steady_clock::time_point sources_started() const noexcept {
    return sources_started_;
  }
  /// The process's CPU time (platform/clock process_cpu_ns) at sources_started().
  /// runs on: main thread, after start().
  std::uint64_t sources_started_cpu_ns() const noexcept { return sources_started_cpu_ns_; }
  /// Asks the source to stop reading; the rest drains. Safe to call more than once.
  void request_stop() noexcept;
  /// Shutdown deadline passed: sinks stop waiting for their destinations and end promptly;
  /// what they have not confirmed stays in the spool for the next start.
  void abandon_delivery() noexcept;
  bool spooled() const noexcept { return spool_ != nullptr; }
  bool finished() const noexcept;
  void join();

  const counter_registry& counters() const noexcept { return registry_; }

  // Read-only views for stages/report/. Pointers are null for parts this config does not have
  // (no replay, no HTTP sources, no spool); every part exists once build() succeeded.
  bool started() const noexcept { return !threads_.empty(); }
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }
  const transform_stage& transform() const noexcept { return *transform_; }
  const replay_source* replay() const noexcept { return replay_.get(); }
  const ring_edge<payload_batch*>* replay_ring() const noexcept { return replay_ring_.get(); }
  const http_poll_source* http() const noexcept { return http_.get(); }
  const ring_edge<payload_batch*>* http_ring() const noexcept { return http_ring_.get(); }
  const spool* spool_state() const noexcept { return spool_.get(); }
  const spool_stage* spool_thread_stage() const noexcept { return spool_stage_.get(); }
  const std::vector<std::unique_ptr<sink_stage>>& sinks() const noexcept { return sinks_; }
  /// The postgres_cdc sources (config order).
  const std::vector<std::unique_ptr<pgcdc::postgres_cdc_stage>>& cdc_sources() const noexcept {
    return cdc_;
  }
  const sink_stage& dead_letters() const noexcept { return *dead_letters_; }
  /// After join(): why the run failed although it drained (a trace read error, a postgres_cdc
  /// source stopped by an error it does not retry); empty when it did not. The command then
  /// exits 1.
  std::string failure() const;
  /// The last dead letters (for the status page).
  const dead_letter_log& last_dead_letters() const noexcept { return dead_letter_log_; }
  const pipeline_config& config() const noexcept { return config_; }
  /// Source names by source id (config order).
  const std::vector<std::string>& source_names() const noexcept { return source_names_; }

 private:
  pipeline_config config_;
  std::vector<std::string> source_names_;
  counter_registry registry_;
  std::atomic<bool> stop_{false};
  std::atomic<int> running_{0};
  std::function<void()> on_finished_;
  std::chrono::steady_clock::time_point sources_started_{};
  std::uint64_t sources_started_cpu_ns_ = 0;

  batch_pool<payload_batch> payload_pool_;
  batch_pool<record_batch> record_pool_;
  memory_trimmer trimmer_;         // the thread mem:trim ([pipeline] idle_trim)
  waiter transform_input_waiter_;  // shared by every source ring (one consumer)
  std::unique_ptr<ring_edge<payload_batch*>> replay_ring_;
  std::unique_ptr<replay_source> replay_;
  std::unique_ptr<ring_edge<payload_batch*>> http_ring_;
  std::unique_ptr<http_poll_source> http_;
  std::vector<std::unique_ptr<pgcdc::postgres_cdc_stage>> cdc_;
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
