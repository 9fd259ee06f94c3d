// The stages' side of config validation (config/stage_checks.hpp): compiles transform specs
// with the transform's own compiler and parses schedules with the sources' cron parser, so the
// loader rejects what the running stages would reject, before any thread starts.
// Threading: stateless; any thread.
#pragma once

#include "config/stage_checks.hpp"

namespace edgepipe {

/// The one instance the CLI and tests pass to load_config_* and validate_config.
const stage_checks& pipeline_stage_checks() noexcept;

}  // namespace edgepipe
