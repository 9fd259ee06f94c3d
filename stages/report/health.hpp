// Readiness for /health and systemd: empty when the pipeline is ready, otherwise why not.
// Threading: any thread; reads atomics only.
#pragma once

#include <string>

#include "stages/pipeline/pipeline.hpp"

namespace edgepipe {

std::string not_ready_reason(const pipeline& p);

}  // namespace edgepipe
