// Readiness for /health and systemd: empty when the pipeline is ready, otherwise why not.
// Threading: any thread; reads atomics only.
#pragma once

#include <string>

#include "stages/pipeline/pipeline.hpp"

namespace edgepipe {

std::string not_ready_reason(const pipeline& p);

/// "sinks.NAME: why" for the first sink that stopped delivering for good (sink::fault()); empty
/// when none did. Part of not_ready_reason(); a replay stops on it.
std::string first_sink_fault(const pipeline& p);

/// The records the pipeline gave up on the paths configured to give data up, as
/// "sinks.kafka: 12 failed without a spool, dead_letter: 3 not written"; empty when none.
/// Counted: sinks' failed records without a spool, records a sink lost to the spool's
/// drop_oldest, batches released unspooled past the drain deadline, dead letters whose write
/// failed. /health shows it under its first line; a replay that gave records up exits 1.
std::string records_given_up(const pipeline& p);

}  // namespace edgepipe
