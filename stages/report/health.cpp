#include "stages/report/health.hpp"

namespace edgepipe {

std::string not_ready_reason(const pipeline& p) {
  if (!p.started()) return "not started";
  if (p.finished()) return "stopped";
  if (p.stop_requested()) return "draining";
  if (p.spool_thread_stage() != nullptr && p.spool_thread_stage()->faulted())
    return "spool cannot write: " + p.spool_thread_stage()->fault();
  return {};
}

}  // namespace edgepipe
