#include "stages/report/operator_routes.hpp"

#include "stages/report/health.hpp"
#include "stages/report/metrics_text.hpp"

namespace edgepipe {

http_reply operator_reply(const pipeline& p, const std::string& path) {
  if (path == "/metrics") return http_reply{200, "text/plain; version=0.0.4", prometheus_text(p)};
  if (path == "/health/live") return http_reply{200, "text/plain", "live\n"};
  if (path == "/health") {
    const std::string why = not_ready_reason(p);
    return why.empty() ? http_reply{200, "text/plain", "ready\n"}
                       : http_reply{503, "text/plain", "not ready: " + why + "\n"};
  }
  return http_reply{404, "text/plain", "not found: try /metrics or /health\n"};
}

}  // namespace edgepipe
