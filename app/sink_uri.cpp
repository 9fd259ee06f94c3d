#include "app/sink_uri.hpp"

namespace edgepipe {

namespace {
std::string numbered(const std::string& base, std::size_t index) {
  return index == 0 ? base : base + std::to_string(index + 1);
}
}  // namespace

status parse_sink_uri(const std::string& uri, std::size_t index, sink_config& out) {
  out = sink_config{};
  if (uri.rfind("file:", 0) == 0) {
    out.type = "file";
    out.name = numbered("file", index);
    out.file.path = uri.substr(5);
    if (out.file.path.rfind("//", 0) == 0) out.file.path = out.file.path.substr(2);
    if (out.file.path.empty()) return status::error("--sink " + uri + ": file: needs a path");
    return status::ok();
  }
  if (uri.rfind("kafka://", 0) == 0) {
    // kafka://HOST:PORT[,HOST:PORT...][/TOPIC]
    out.type = "kafka";
    out.name = numbered("kafka", index);
    const std::string rest = uri.substr(8);
    const auto slash = rest.find('/');
    out.kafka.brokers = rest.substr(0, slash);
    if (slash != std::string::npos) out.kafka.topic = rest.substr(slash + 1);
    if (out.kafka.brokers.empty())
      return status::error("--sink " + uri + ": expected kafka://HOST:PORT/TOPIC");
    return status::ok();
  }
  if (uri.rfind("mongodb://", 0) == 0) {
    // mongodb://HOST:PORT/DB[.COLLECTION][?options]
    out.type = "mongodb";
    out.name = numbered("mongodb", index);
    const std::string rest = uri.substr(10);
    const auto slash = rest.find('/');
    if (slash == std::string::npos || slash + 1 >= rest.size())
      return status::error("--sink " + uri + ": expected mongodb://HOST:PORT/DB.COLLECTION");
    std::string ns = rest.substr(slash + 1);
    std::string options;
    if (const auto q = ns.find('?'); q != std::string::npos) {
      options = ns.substr(q);
      ns = ns.substr(0, q);
    }
    const auto dot = ns.find('.');
    out.mongo.database = ns.substr(0, dot);
    if (dot != std::string::npos) out.mongo.collection = ns.substr(dot + 1);
    out.mongo.uri = "mongodb://" + rest.substr(0, slash) + "/" + options;
    if (out.mongo.database.empty())
      return status::error("--sink " + uri + ": the database name is empty");
    return status::ok();
  }
  return status::error("--sink " + uri +
                       ": unsupported sink (expected file:PATH, kafka://HOST:PORT/TOPIC or "
                       "mongodb://HOST:PORT/DB.COLLECTION)");
}

}  // namespace edgepipe
