// The one table of sink types known at compile time: config -> a sink instance.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "stages/sinks/sink.hpp"

namespace edgepipe {

/// source_names[i] is the name of source id i (topic/collection naming, envelopes).
std::unique_ptr<sink> make_sink(const pipeline_config& pipeline, const sink_config& config,
                                const std::vector<std::string>& source_names);

}  // namespace edgepipe
