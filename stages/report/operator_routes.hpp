// What the operator endpoint answers: /metrics (Prometheus text), /health and /health/live.
// One function from a path to a reply, so the CLI only starts the server.
// Threading: the HTTP endpoint's thread; reads the pipeline's atomics only.
#pragma once

#include <string>

#include "io/http_endpoint.hpp"
#include "stages/pipeline/pipeline.hpp"

namespace edgepipe {

http_reply operator_reply(const pipeline& p, const std::string& path);

}  // namespace edgepipe
