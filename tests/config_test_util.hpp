// Shared by the config tests: load a TOML text as the daemon does (loader, then the stage
// checks) and return the error, plus the smallest config that loads.
#pragma once

#include <string>

#include "config/config_loader.hpp"
#include "stages/pipeline/stage_checks.hpp"

namespace edgepipe::testing {

/// The message loading `toml` (named edge.toml) fails with, or "" when it loads and validates.
inline std::string load_error(const std::string& toml) {
  pipeline_config c;
  status s = load_config_text(toml, "edge.toml", pipeline_stage_checks(), c);
  if (s) s = validate_config(c, pipeline_stage_checks());
  return s ? std::string() : s.message();
}

/// One file sink and one source: append a table or key to test it.
inline constexpr const char* kMinimal = R"(
[sinks.out]
type = "file"
path = "out.jsonl"
[sources.iss]
fields = [ { name = "t", from = "/timestamp", type = "int" } ]
)";

}  // namespace edgepipe::testing
