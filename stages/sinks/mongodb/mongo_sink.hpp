// MongoDB sink (libmongoc). See stages/sinks/mongodb/mongo_sink.cpp; the class and which file
// holds which part of it: mongo_sink_impl.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "stages/sinks/sink.hpp"

namespace edgepipe {
std::unique_ptr<sink> make_mongo_sink(const std::string& name, const mongo_sink_config& config,
                                      const std::vector<std::string>& source_names);
}
