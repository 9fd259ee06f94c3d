// The defaults' memory budget (issue 21 item 2): what the byte bounds let grow at full speed, all
// full at once (a slow sink backs everything up), stays within the anonymous share of a 64 MiB
// peak: ~16 MiB of the RSS is file-backed text, so ~48 MiB, of which ~4 MiB go to the record
// batches in the transform's ring (about 0.4 MiB each on coingecko, far below batch_bytes),
// stacks, parsers and allocator slack. The measured peaks (benchmarks/README.md, "Peak memory
// within 64 MiB at the defaults") stay below this sum, as the bounds are rarely all full at
// once: a default raised past it fails here before it shows up in a benchmark. Sizes only.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "config/config_loader.hpp"
#include "stages/pipeline/stage_checks.hpp"

namespace edgepipe {
namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
// librdkafka's own memory per message not yet answered (the message, its three headers, its
// share of the message set and of the compressed copy), measured on coingecko records: peak RSS
// fell ~5 MiB when max_in_flight went from 8192 to 4096.
constexpr std::uint64_t kKafkaBytesPerMessage = 1300;
// The replay source holds one window being read, the transform one being parsed.
constexpr std::uint64_t kWindowsOutsideTheRing = 2;
// The file sink's io_uring buffers (stages/sinks/file: 4 x 1 MiB).
constexpr std::uint64_t kFileSinkBuffers = 4 * kMiB;

pipeline_config defaults_with_kafka_and_file() {
  pipeline_config c;
  const std::string text =
      "[spool]\ndir = \"spool\"\n"
      "[sinks.k]\ntype = \"kafka\"\n"
      "[sinks.f]\ntype = \"file\"\npath = \"out.jsonl\"\n"
      "[sources.s]\nfields = [ { name = \"t\", from = \"/t\" } ]\n";
  EXPECT_TRUE(load_config_text(text, "edge.toml", pipeline_stage_checks(), c).is_ok());
  return c;
}

TEST(MemoryDefaults, WhatTheBoundsLetGrowFitsUnderTheEdgeBudget) {
  const pipeline_config c = defaults_with_kafka_and_file();
  ASSERT_EQ(c.sinks.size(), 2u);
  const auto& kafka = c.sinks[0].type == "kafka" ? c.sinks[0].kafka : c.sinks[1].kafka;
  const std::uint64_t payloads = (c.ring_capacity + kWindowsOutsideTheRing) * c.replay_window_bytes;
  const std::uint64_t tail = c.spool.memory_bytes;
  const std::uint64_t spool_writer = c.spool.write_buffer_bytes;
  // Batches kept for messages in flight (no copy) and librdkafka's own share of each message.
  const std::uint64_t kafka_sink =
      kafka.max_buffer_bytes +
      static_cast<std::uint64_t>(kafka.max_in_flight) * kKafkaBytesPerMessage;
  const std::uint64_t total = payloads + tail + spool_writer + kafka_sink + kFileSinkBuffers;
  EXPECT_LE(total, 44 * kMiB) << "payload windows " << payloads / kMiB << " MiB, memory tail "
                              << tail / kMiB << " MiB, spool writer " << spool_writer / kMiB
                              << " MiB, Kafka sink " << kafka_sink / kMiB << " MiB";
}

}  // namespace
}  // namespace edgepipe
