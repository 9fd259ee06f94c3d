#include "io/http_endpoint.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "platform/log.hpp"

namespace edgepipe {

namespace {

MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char*, size_t*, void**) {
  auto* h = static_cast<http_endpoint::handler*>(cls);
  http_reply reply;
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
    reply = {405, "text/plain; charset=utf-8", "method not allowed\n"};
  } else {
    reply = (*h)(url);
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(reply.body.size(), reply.body.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) {
    // Out of memory for the copy: MHD_NO makes libmicrohttpd close the connection, which the
    // scraper sees as a failed scrape instead of an empty 200.
    log_line(log_level::error, "http", "cannot build the response to " + std::string(url));
    return MHD_NO;
  }
  if (MHD_add_response_header(response, "Content-Type", reply.content_type.c_str()) != MHD_YES) {
    MHD_destroy_response(response);
    log_line(log_level::error, "http",
             "cannot set Content-Type of the response to " + std::string(url));
    return MHD_NO;
  }
  const MHD_Result r = MHD_queue_response(connection, reply.status, response);
  MHD_destroy_response(response);
  return r;
}

}  // namespace

http_endpoint::~http_endpoint() { stop(); }

status http_endpoint::start(const std::string& listen, handler h) {
  handler_ = std::move(h);
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return status::error("http.listen '" + listen + "': expected ADDRESS:PORT");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  const std::string host = listen.substr(0, colon);
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1)
    return status::error("http.listen '" + listen + "': not an IPv4 address");
  const unsigned long port = std::strtoul(listen.c_str() + colon + 1, nullptr, 10);
  if (port > 65535) return status::error("http.listen '" + listen + "': bad port");
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                             static_cast<std::uint16_t>(port), nullptr, nullptr, &answer, &handler_,
                             MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (daemon_ == nullptr)
    return status::error("cannot serve /metrics on " + listen + " (port in use?)");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : static_cast<unsigned>(port);
  return status::ok();
}

void http_endpoint::stop() {
  if (daemon_) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace edgepipe
