// Runs a validated config until its sources end or a signal stops it: the daemon (`run`),
// `record` and `replay` all end here. SIGINT/SIGTERM drain within pipeline.drain_timeout,
// SIGHUP reloads the config file when it validates, the operator endpoint serves /metrics and
// /health. Threading: main thread; it takes the signals synchronously (every other thread has
// them blocked).
#pragma once

#include <cstdint>
#include <string>

#include "config/pipeline_config.hpp"
#include "core/status.hpp"

namespace edgepipe {

enum class run_mode { daemon, replay, record };

struct run_options {
  run_mode mode = run_mode::daemon;
  std::string config_path;        // re-read on SIGHUP (daemon/record); empty = embedded
  std::uint64_t duration_ms = 0;  // record --duration; 0 = until a signal
};

/// Validates, builds and runs; prints the counters at exit and, for replay, the JSON summary.
/// Returns the process exit code.
int run_pipeline(pipeline_config config, const run_options& options);

/// The embedded default config when `path` is empty, else the file.
status load_config(const std::string& path, pipeline_config& config);

}  // namespace edgepipe
