#include "app/sink_uri.hpp"

namespace edgepipe {

status parse_sink_uri(const std::string& uri, std::size_t index, sink_config& out) {
  out = sink_config{};
  if (uri.rfind("file:", 0) == 0) {
    out.type = "file";
    out.name = index == 0 ? "file" : "file" + std::to_string(index + 1);
    out.file.path = uri.substr(5);
    if (out.file.path.rfind("//", 0) == 0) out.file.path = out.file.path.substr(2);
    if (out.file.path.empty()) return status::error("--sink " + uri + ": file: needs a path");
    return status::ok();
  }
  return status::error("--sink " + uri + ": unsupported sink (this build has file:PATH)");
}

}  // namespace edgepipe
