#include "stages/report/status_routes.hpp"

#include "stages/report/status_assets.hpp"

namespace edgepipe {

namespace {
// The page loads only its own files and talks only to its own origin; no inline script or
// style is allowed, so even a string that slipped into the DOM as markup could not run.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}  // namespace

std::optional<http_reply> status_route(const std::string& path, status_report& report) {
  if (path == "/api/status") {
    http_reply r{200, "application/json; charset=utf-8", report.json(), {}};
    r.headers = {{"Cache-Control", "no-store"}};  // no CORS header: same origin only
    return r;
  }
  const std::string want = path == "/" ? "/index.html" : path;
  for (std::size_t i = 0; i < kStatusAssetCount; ++i) {
    const embedded_asset& a = kStatusAssets[i];
    if (a.path != want) continue;
    http_reply r{200, std::string(a.content_type), std::string(a.body), {}};
    r.headers = {{"Cache-Control", "no-cache"},
                 {"Content-Security-Policy", kPolicy},
                 {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"}};
    return r;
  }
  return std::nullopt;
}

}  // namespace edgepipe
