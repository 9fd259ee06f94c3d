#include "stages/sinks/sink_factory.hpp"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string_view>

#include "stages/sinks/file/file_sink.hpp"
#include "stages/sinks/kafka/kafka_sink.hpp"
#include "stages/sinks/mongodb/mongo_sink.hpp"

namespace edgepipe {
namespace {

/// [pipeline] node_id, or one stable across restarts of this daemon on this host: the host name
/// and a hash of the spool directory's absolute path (two daemons on one host have two spools).
std::string node_id_of(const pipeline_config& pipeline) {
  if (!pipeline.node_id.empty()) return pipeline.node_id;
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::string_view("localhost").copy(host, 9);
  std::error_code ec;
  const std::filesystem::path dir = pipeline.spool.dir.empty()
                                        ? std::filesystem::path()
                                        : std::filesystem::absolute(pipeline.spool.dir, ec);
  // FNV-1a: the same on every build and run (std::hash need not be).
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : dir.lexically_normal().string()) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = std::string(host) + "-";
  for (int i = 7; i >= 0; --i) out.push_back(kHex[(h >> (4 * i)) & 0xf]);
  return out;
}

}  // namespace

std::unique_ptr<sink> make_sink(const pipeline_config& pipeline, const sink_config& config,
                                const std::vector<std::string>& source_names) {
  if (config.type == "kafka") {
    // Sources whose records carry their own topic (postgres_cdc): no per-source topic.
    std::vector<bool> stream_only(source_names.size(), false);
    for (std::size_t i = 0; i < source_names.size(); ++i)
      for (const source_spec& spec : pipeline.sources)
        if (spec.name == source_names[i] && spec.cdc) stream_only[i] = true;
    kafka_sink_config k = config.kafka;
    if (k.exactly_once) k.node_id = node_id_of(pipeline);
    return make_kafka_sink(config.name, k, source_names, stream_only);
  }
  if (config.type == "mongodb") {
    mongo_sink_config m = config.mongo;
    if (m.dead_letter_path.empty()) {
      // Next to the pipeline's dead-letter file, one file per MongoDB sink.
      const std::filesystem::path dl(pipeline.dead_letter.path);
      m.dead_letter_path = (dl.parent_path() / ("dead-letter-" + config.name + ".jsonl")).string();
    }
    return make_mongo_sink(config.name, m, source_names);
  }
  return std::make_unique<file_sink>(config.name, config.file, source_names);
}

}  // namespace edgepipe
