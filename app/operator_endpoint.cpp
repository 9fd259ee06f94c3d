#include "app/operator_endpoint.hpp"

#include <openssl/evp.h>

#include <vector>

#include "platform/log.hpp"
#include "stages/report/operator_routes.hpp"
#include "stages/report/status_routes.hpp"

namespace edgepipe {

http_auth operator_auth(const http_server_config& config) {
  http_auth auth;
  auth.open_paths = {"/health", "/health/live"};  // probes: no data beyond ready/not ready
  if (!config.bearer_token.empty()) {
    auth.authorization = "Bearer " + config.bearer_token;
    auth.challenge = "Bearer realm=\"edgepipe\"";
  } else if (!config.basic_auth.empty()) {
    std::vector<unsigned char> b64(4 * ((config.basic_auth.size() + 2) / 3) + 1);
    const int n = EVP_EncodeBlock(b64.data(),
                                  reinterpret_cast<const unsigned char*>(config.basic_auth.data()),
                                  static_cast<int>(config.basic_auth.size()));
    auth.authorization = "Basic " + std::string(reinterpret_cast<const char*>(b64.data()),
                                                static_cast<std::size_t>(n));
    auth.challenge = "Basic realm=\"edgepipe\", charset=\"UTF-8\"";
  }
  return auth;
}

bool is_loopback_listen(const std::string& listen) {
  const std::string host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host.rfind("127.", 0) == 0;
}

status operator_endpoint::start(const http_server_config& config, const pipeline& p,
                                const std::string& mode) {
  report_ = std::make_unique<status_report>(p, mode);
  status_report* report = report_.get();
  const pipeline* current = &p;
  http_auth auth = operator_auth(config);
  if (!is_loopback_listen(config.listen) && auth.authorization.empty())
    log_line(log_level::warn, "http",
             "serving the status page and /metrics on " + config.listen +
                 ", which is not loopback, without [http] bearer_token or basic_auth");
  return endpoint_.start(
      config.listen,
      [current, report](const std::string& path) {
        if (auto r = status_route(path, *report)) return std::move(*r);
        return operator_reply(*current, path);  // /metrics, /health, 404
      },
      std::move(auth));
}

}  // namespace edgepipe
