// One declarative table per config section: key, type, default, range, description. The loader
// uses it to reject unknown keys; `edgepipe config-doc` prints it as docs/configuration.md.
#pragma once

#include <span>
#include <string_view>

namespace edgepipe {

struct option_doc {
  std::string_view key;
  std::string_view type;
  std::string_view default_text;
  std::string_view description;
  /// Accepted values of an integer or duration, "LO..HI" (2^N allowed; durations with a unit).
  /// The loader enforces it; tests/config_test.cpp checks both ends against the loader.
  std::string_view range = {};
};

struct section_doc {
  std::string_view path;  // e.g. "pipeline", "sources.<name>", "sinks.<name> (type = \"file\")"
  std::string_view description;
  std::span<const option_doc> options;
};

std::span<const section_doc> config_sections() noexcept;

}  // namespace edgepipe
