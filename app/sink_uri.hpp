// --sink URIs: file:PATH today; kafka:// and mongodb:// arrive with their sinks.
#pragma once

#include <string>

#include "config/pipeline_config.hpp"
#include "core/status.hpp"

namespace edgepipe {
status parse_sink_uri(const std::string& uri, std::size_t index, sink_config& out);
}
