#include "stages/report/health.hpp"

namespace edgepipe {

std::string not_ready_reason(const pipeline& p) {
  if (!p.started()) return "not started";
  if (p.finished()) return "stopped";
  if (p.stop_requested()) return "draining";
  return {};
}

}  // namespace edgepipe
