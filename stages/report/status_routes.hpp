// The status page's routes on the operator endpoint: "/" (the page), its embedded files, and
// "/api/status" (stages/report/status_json). Read-only: GET and HEAD only (io/http_endpoint).
// Threading: runs on the HTTP server's thread.
#pragma once

#include <optional>
#include <string>

#include "io/http_endpoint.hpp"
#include "stages/report/status_json.hpp"

namespace edgepipe {

/// The reply for `path` when it is one of the status page's routes; nullopt otherwise.
std::optional<http_reply> status_route(const std::string& path, status_report& report);

}  // namespace edgepipe
