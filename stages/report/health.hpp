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

}  // namespace edgepipe
