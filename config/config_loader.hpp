// TOML -> pipeline_config, validated before any thread starts. Every error names the file, the
// line, the key and the offending value; the CLI turns them into exit code 2.
#pragma once

#include <string>
#include <string_view>

#include "config/pipeline_config.hpp"
#include "config/stage_checks.hpp"
#include "core/status.hpp"

namespace edgepipe {

// `checks` validates what only the stages can (transform specs, schedules): pass
// stages/pipeline/stage_checks.hpp's pipeline_stage_checks().
status load_config_file(const std::string& path, const stage_checks& checks, pipeline_config& out);
status load_config_text(std::string_view text, const std::string& origin,
                        const stage_checks& checks, pipeline_config& out);
/// The config compiled into the binary (config/default.toml).
status load_default_config(const stage_checks& checks, pipeline_config& out);
std::string_view default_config_text() noexcept;

/// Checks that need the whole config: at least one source and one sink, unique paths, and that
/// every transform compiles. Call after CLI overrides are applied.
status validate_config(const pipeline_config& config, const stage_checks& checks);

}  // namespace edgepipe
