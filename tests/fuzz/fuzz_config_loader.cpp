// Fuzz target: the config loader (config/config_loader): TOML text -> load_config_text ->
// validate_config (which also compiles every source's transform), as `edgepipe` does with a
// config file. Errors must come back as a status, never as a crash, an exception or undefined
// behaviour (huge numbers, odd types, bad durations, deep tables, includes).
// Inputs that name special files (/dev, /proc, /sys) are skipped: `include` and "file:" secrets
// read any path the user gives, and reading /dev/zero or a pipe is the user's choice, not a
// loader bug. Relative includes resolve against an empty scratch directory.
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config_loader.hpp"
#include "fuzz_util.hpp"
#include "stages/pipeline/stage_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgepipe;
  static const std::string origin = fuzz::scratch_dir() + "/fuzz.toml";
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const std::string_view special : {"/dev", "/proc", "/sys"})
    if (text.find(special) != std::string_view::npos) return 0;
  pipeline_config config;
  if (load_config_text(text, origin, pipeline_stage_checks(), config))
    (void)validate_config(config, pipeline_stage_checks());
  return 0;
}
