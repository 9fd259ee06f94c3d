// What a run did, as text: the one-line JSON summary `replay` prints at exit and the per-stage
// counters report it writes to stderr. Built from the pipeline's counters, never on a hot path.
// Threading: any thread, while or after the pipeline runs (counters are atomics).
#pragma once

#include <string>

#include "stages/pipeline/pipeline.hpp"

namespace edgepipe {

/// One JSON object: payloads, records, rejected, delivered per sink, seconds, latency...
/// (docs/operations.md, "The replay summary"). `seconds`: since the sources started; cpu_seconds
/// covers the same window (the process's CPU time from then until this call).
std::string summary_json(const pipeline& p, double seconds);
/// Per-stage counters, one JSON object per line.
std::string counters_report(const pipeline& p);

}  // namespace edgepipe
