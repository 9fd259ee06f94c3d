#include "io/http_endpoint.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "platform/log.hpp"
// Last: the calls below go through the table loaded at run time.
#include "io/libmicrohttpd.hpp"

namespace edgepipe {

namespace {

/// Compares without an early exit, so the time taken does not tell how much of a guess matched.
bool same_secret(const char* given, const std::string& expected) {
  const std::size_t n = given ? std::strlen(given) : 0;
  unsigned char diff = n == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < n ? given[i] : 0));
  return diff == 0;
}

MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char*, size_t*, void**) {
  const auto* ctx = static_cast<const http_endpoint::context*>(cls);
  http_reply reply;
  const std::string path = url;
  bool open = ctx->auth.authorization.empty();
  for (const auto& p : ctx->auth.open_paths) open = open || p == path;
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
    reply = {405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", "GET, HEAD"}}};
  } else if (!open && !same_secret(MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                               MHD_HTTP_HEADER_AUTHORIZATION),
                                   ctx->auth.authorization)) {
    reply = {401,
             "text/plain; charset=utf-8",
             "unauthorized\n",
             {{"WWW-Authenticate", ctx->auth.challenge}}};
  } else {
    reply = ctx->h(path);
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
  // Headers beyond Content-Type: a failure only loses the header, the reply still goes out.
  if (MHD_add_response_header(response, "X-Content-Type-Options", "nosniff") != MHD_YES)
    log_line(log_level::warn, "http", "cannot set X-Content-Type-Options on " + std::string(url));
  for (const auto& [name, value] : reply.headers)
    if (MHD_add_response_header(response, name.c_str(), value.c_str()) != MHD_YES)
      log_line(log_level::warn, "http", "cannot set header " + name + " on " + std::string(url));
  const MHD_Result r = MHD_queue_response(connection, reply.status, response);
  MHD_destroy_response(response);
  return r;
}

}  // namespace

http_endpoint::~http_endpoint() { stop(); }

status http_endpoint::start(const std::string& listen, handler h, http_auth auth) {
  context_.h = std::move(h);
  context_.auth = std::move(auth);
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
  if (status s = load_libmicrohttpd(); !s) return s.prefixed("cannot serve on " + listen + ": ");
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                             static_cast<std::uint16_t>(port), nullptr, nullptr, &answer, &context_,
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
