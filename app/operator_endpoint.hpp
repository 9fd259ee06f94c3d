// The operator endpoint of a running pipeline: the status page (/ and its files), /api/status,
// /metrics and /health on `[http] listen`, with the optional bearer token or basic auth of
// `[http]`. Read-only: GET and HEAD only.
// Threading: start/stop on the main thread; requests are answered on libmicrohttpd's thread.
#pragma once

#include <memory>
#include <string>

#include "config/pipeline_config.hpp"
#include "io/http_endpoint.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/report/status_json.hpp"

namespace edgepipe {

class operator_endpoint {
 public:
  /// `mode`: "run", "replay" or "record" (shown on the status page).
  status start(const http_server_config& config, const pipeline& p, const std::string& mode);
  void stop() { endpoint_.stop(); }
  unsigned port() const noexcept { return endpoint_.port(); }

 private:
  std::unique_ptr<status_report> report_;
  http_endpoint endpoint_;  // declared last: stopped before the report goes
};

/// The Authorization header `config` asks for ("" when none) and its WWW-Authenticate.
http_auth operator_auth(const http_server_config& config);
/// True for 127.0.0.0/8 and localhost listen addresses.
bool is_loopback_listen(const std::string& listen);

}  // namespace edgepipe
