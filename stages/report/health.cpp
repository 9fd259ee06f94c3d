#include "stages/report/health.hpp"

#include <cstdint>
#include <string>

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

std::string records_given_up(const pipeline& p) {
  std::string out;
  auto add = [&](const std::string& what, std::uint64_t n, const char* how) {
    if (n == 0) return;
    out += (out.empty() ? "" : ", ") + what + ": " + std::to_string(n) + " " + how;
  };
  for (std::size_t i = 0; i < p.sinks().size(); ++i) {
    const std::string name = "sinks." + p.sinks()[i]->target().name();
    if (!p.spooled())
      add(name, p.sinks()[i]->counters().failed.get(), "failed without a spool");
    else
      add(name, p.spool_state()->dropped_records(i), "dropped (spool.on_full = drop_oldest)");
  }
  if (p.spool_thread_stage() != nullptr)
    add("spool", p.spool_thread_stage()->not_spooled(), "not spooled (past the drain deadline)");
  add("dead_letter", p.dead_letters().counters().failed.get(), "not written");
  return out;
}

}  // namespace edgepipe
