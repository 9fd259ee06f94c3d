// A tiny HTTP server for operators (/metrics, /health) on libmicrohttpd. Requests are answered on
// libmicrohttpd's own thread by a handler that only reads counters (relaxed atomics).
// Threading: start/stop on the main thread; the handler runs on the server thread.
#pragma once

#include <functional>
#include <string>

#include "core/status.hpp"

struct MHD_Daemon;

namespace edgepipe {

struct http_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class http_endpoint {
 public:
  using handler = std::function<http_reply(const std::string& path)>;
  ~http_endpoint();
  /// listen: "ADDRESS:PORT" (IPv4). Port 0 picks a free port (see port()).
  status start(const std::string& listen, handler h);
  void stop();
  unsigned port() const noexcept { return port_; }

 private:
  MHD_Daemon* daemon_ = nullptr;
  handler handler_;
  unsigned port_ = 0;
};

}  // namespace edgepipe
