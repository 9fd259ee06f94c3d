// The Prometheus text exposition of every counter, for /metrics (docs/operations.md lists each
// metric). Threading: any thread, typically the HTTP endpoint's; reads atomics only.
#pragma once

#include <string>

#include "stages/pipeline/pipeline.hpp"

namespace edgepipe {

std::string prometheus_text(const pipeline& p);

}  // namespace edgepipe
