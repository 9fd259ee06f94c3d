#include "stages/sinks/sink_factory.hpp"

#include <filesystem>

#include "stages/sinks/file/file_sink.hpp"
#include "stages/sinks/kafka/kafka_sink.hpp"
#include "stages/sinks/mongodb/mongo_sink.hpp"

namespace edgepipe {

std::unique_ptr<sink> make_sink(const pipeline_config& pipeline, const sink_config& config,
                                const std::vector<std::string>& source_names) {
  if (config.type == "kafka") {
    // Sources whose records carry their own topic (postgres_cdc): no per-source topic.
    std::vector<bool> stream_only(source_names.size(), false);
    for (std::size_t i = 0; i < source_names.size(); ++i)
      for (const source_spec& spec : pipeline.sources)
        if (spec.name == source_names[i] && spec.cdc) stream_only[i] = true;
    return make_kafka_sink(config.name, config.kafka, source_names, stream_only);
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
