// Kafka sink (librdkafka). See stages/sinks/kafka/kafka_sink.cpp; the class and which file
// holds which part of it: kafka_sink_impl.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "stages/sinks/sink.hpp"

namespace edgepipe {
/// `stream_only_sources[i]`: source i's records all name their own topic (postgres_cdc), so the
/// sink neither creates nor waits for a `<topic_prefix><source>` topic for it.
std::unique_ptr<sink> make_kafka_sink(const std::string& name, const kafka_sink_config& config,
                                      const std::vector<std::string>& source_names,
                                      const std::vector<bool>& stream_only_sources = {});

/// For fault-injection tests (`s` made by make_kafka_sink): a fatal producer error, as
/// rd_kafka_test_fatal_error() raises it; and how many producers replaced a failed one.
void kafka_sink_inject_fatal_error(sink& s, const char* reason);
std::uint64_t kafka_sink_producers_recreated(const sink& s);

/// exactly_once: transactions committed and aborted so far, open now (0-2: the one filling and
/// the one committing), and whether a producer was fenced (and why). For tests; runs on the sink
/// thread or after it ended.
struct kafka_transaction_stats {
  std::uint64_t committed = 0;
  std::uint64_t aborted = 0;
  std::uint64_t open = 0;
  bool fenced = false;
  std::string fenced_reason;
};
kafka_transaction_stats kafka_sink_transaction_stats(const sink& s);
}  // namespace edgepipe
