// What validating a config needs from the stages - compiling a source's transform, parsing a
// cron schedule - as an interface, so config/ never includes stages/. The stages' side
// implements it (stages/pipeline/stage_checks.hpp) and the CLI and tests pass it to the loader.
// Threading: stateless; called on the thread that loads the config, before any stage starts.
#pragma once

#include <string>
#include <string_view>

#include "config/source_spec.hpp"
#include "core/status.hpp"

namespace edgepipe {

class stage_checks {
 public:
  virtual ~stage_checks() = default;
  /// Compiles the source's transform spec; the error names the source and the offending key.
  virtual status check_transform(const source_spec& source) const = 0;
  /// True when `expression` is a valid schedule; otherwise false with `why` set.
  virtual bool check_schedule(std::string_view expression, std::string& why) const = 0;
};

}  // namespace edgepipe
