// A tiny read-only HTTP server for operators (status page, /api/status, /metrics, /health) on
// libmicrohttpd: GET and HEAD only (405 otherwise), and an optional Authorization check. Requests
// are answered on libmicrohttpd's own thread by a handler that only reads counters.
// Threading: start/stop on the main thread; the handler runs on the server thread.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.hpp"

struct MHD_Daemon;

namespace edgepipe {

struct http_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers{};  // extra response headers
};

/// Optional access control: when `authorization` is set, every request except those for
/// `open_paths` must carry exactly this Authorization header ("Bearer TOKEN" or "Basic
/// BASE64"); others get 401 with `challenge` as WWW-Authenticate.
struct http_auth {
  std::string authorization;
  std::string challenge;
  std::vector<std::string> open_paths;
};

class http_endpoint {
 public:
  using handler = std::function<http_reply(const std::string& path)>;
  ~http_endpoint();
  /// listen: "ADDRESS:PORT" (IPv4). Port 0 picks a free port (see port()).
  status start(const std::string& listen, handler h, http_auth auth = {});
  void stop();
  unsigned port() const noexcept { return port_; }

  /// What the server thread's callback gets (public only for that callback).
  struct context {
    handler h;
    http_auth auth;
  };

 private:
  MHD_Daemon* daemon_ = nullptr;
  context context_;
  unsigned port_ = 0;
};

}  // namespace edgepipe
