#include "stages/report/operator_routes.hpp"

#include "stages/report/health.hpp"
#include "stages/report/metrics_text.hpp"

namespace edgepipe {

http_reply operator_reply(const pipeline& p, const std::string& path) {
  if (path == "/metrics") return http_reply{200, "text/plain; version=0.0.4", prometheus_text(p)};
  if (path == "/health/live") return http_reply{200, "text/plain", "live\n"};
  if (path == "/health") {
    // Probes read the status; people read the second line: what was given up, if anything.
    const std::string why = not_ready_reason(p);
    const std::string lost = records_given_up(p);
    const std::string given_up = lost.empty() ? "" : "given up: " + lost + "\n";
    return why.empty() ? http_reply{200, "text/plain", "ready\n" + given_up}
                       : http_reply{503, "text/plain", "not ready: " + why + "\n" + given_up};
  }
  return http_reply{404, "text/plain", "not found: try /, /api/status, /metrics or /health\n"};
}

}  // namespace edgepipe
