// The status page's HTML, CSS and JavaScript, compiled into the binary (the node may have no
// internet: no CDN, no external fonts). The table is generated at build time from
// stages/report/status_page/ by stages/report/embed_assets.cmake.
// Threading: constant data; any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace edgepipe {

struct embedded_asset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

extern const embedded_asset kStatusAssets[];
extern const std::size_t kStatusAssetCount;

}  // namespace edgepipe
