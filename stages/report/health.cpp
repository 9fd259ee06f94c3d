#include "stages/report/health.hpp"

namespace edgepipe {

std::string not_ready_reason(const pipeline& p) {
  if (!p.started()) return "not started";
  if (p.finished()) return "stopped";
  if (p.stop_requested()) return "draining";
  if (p.spool_thread_stage() != nullptr && p.spool_thread_stage()->faulted())
    return "spool cannot write: " + p.spool_thread_stage()->fault();
  if (std::string fault = first_sink_fault(p); !fault.empty()) return fault;
  // A postgres_cdc source is ready once its slot streams (or it finished an initial_only run).
  for (const auto& c : p.cdc_sources()) {
    const std::string state = c->state();
    if (state == "streaming" || state == "stopped") continue;
    if (state == "failed")
      return "sources." + c->name() + " (postgres_cdc, slot " + c->slot() +
             ") failed: " + c->last_error();
    return "sources." + c->name() + " (postgres_cdc, slot " + c->slot() + ") is " + state;
  }
  return {};
}

std::string first_sink_fault(const pipeline& p) {
  for (const auto& s : p.sinks())
    if (std::string fault = s->target().fault(); !fault.empty())
      return "sinks." + s->target().name() + ": " + fault;
  return {};
}

}  // namespace edgepipe
