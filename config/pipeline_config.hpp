// The whole daemon's configuration as plain data: what config_loader produces from TOML and
// validates before any thread starts, and what the pipeline is built from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/source_spec.hpp"
#include "config/spool_config.hpp"

namespace edgepipe {

struct replay_config {
  std::string trace;   // path of a trace or JSON Lines file
  double speed = 0;    // 0 = as fast as possible; 1 = original pace; N = N times faster
  std::string source;  // treat every payload as this source (required for JSON Lines)
};

enum class file_format { value, envelope };

struct file_sink_config {
  std::string path;
  std::uint64_t rotate_bytes = std::uint64_t{256} << 20;  // 0 = never rotate
  file_format format = file_format::value;
  bool fsync = false;  // fdatasync on every flush (each batch) and on close
};

struct kafka_sink_config {
  std::string brokers = "127.0.0.1:9092";
  std::string topic;  // one topic for every source; "" = prefix + source
  std::string topic_prefix = "edgepipe.";
  int partitions = 3;  // for topics created on start
  int replication_factor = 1;
  bool create_topics = true;
  std::string compression = "lz4";
  int linger_ms = 5;
  int batch_bytes = 1 << 20;                                 // librdkafka batch.size
  std::uint64_t max_buffer_bytes = std::uint64_t{64} << 20;  // queue.buffering.max.kbytes
  // Messages produced and not yet answered by a delivery report; at the limit the sink waits for
  // reports before producing more. Keeps the sink from running far ahead of librdkafka's broker
  // thread (stages/sinks/kafka/kafka_sink.cpp). Needs >= rate x round trip to the brokers.
  int max_in_flight = 8192;
  int message_timeout_ms = 30000;
  std::string acks = "all";
  std::vector<std::pair<std::string, std::string>> properties;  // extra librdkafka settings
};

enum class mongo_mode { insert, upsert };

struct mongo_index_spec {
  std::vector<std::pair<std::string, int>> keys;  // field, 1 or -1
  bool unique = false;
};

struct mongo_sink_config {
  std::string uri = "mongodb://127.0.0.1:27017";
  std::string database = "edgepipe";
  std::string collection;  // "" = the record's source name
  mongo_mode mode = mongo_mode::insert;
  std::string write_concern = "1";  // "0", "1", "2"..., or "majority"
  int write_timeout_ms = 10000;
  int bulk_documents = 1024;  // documents per bulk write (insert mode): one per default batch
  // Upserts per bulk write. FerretDB's SQLite backend stops answering on unordered upsert
  // bulks of more than ~100 documents; against a real mongod this can be raised.
  int upsert_bulk_size = 25;
  int max_retries = 8;  // transient errors, with exponential backoff
  int retry_backoff_ms = 100;
  std::vector<mongo_index_spec> indexes;  // created on start
  std::string dead_letter_path;           // permanent per-document errors; "" = derived
};

struct sink_config {
  std::string name;
  std::string type;  // "file" | "kafka" | "mongodb"
  std::optional<int> cpu;
  file_sink_config file;
  kafka_sink_config kafka;
  mongo_sink_config mongo;
};

struct dead_letter_config {
  std::string path = "edgepipe-out/dead-letter.jsonl";
  std::size_t max_bytes = 4096;  // offending bytes kept per entry
  std::uint64_t rotate_bytes = std::uint64_t{64} << 20;
};

/// Capture of every HTTP response in the trace format (docs/trace-format.md).
struct capture_config {
  std::string path;
  std::uint64_t rotate_bytes = std::uint64_t{256} << 20;  // 0 = never
};

/// The operator's HTTP endpoint: /metrics (Prometheus text) and /health.
struct http_server_config {
  bool enabled = true;
  std::string listen = "127.0.0.1:9464";
};

enum class log_format { text, json };

struct pipeline_config {
  std::string origin;  // the config file's path, or "<embedded default>"
  std::size_t batch_records = 1024;
  std::size_t batch_bytes = std::size_t{1} << 20;
  std::size_t ring_capacity = 8;  // batches per ring edge (8 keeps the transform fed)
  std::size_t max_payload_bytes = std::size_t{16} << 20;
  std::optional<int> source_cpu;
  std::optional<int> transform_cpu;
  std::vector<source_spec> sources;
  std::vector<sink_config> sinks;
  dead_letter_config dead_letter;
  std::optional<replay_config> replay;
  std::optional<capture_config> capture;
  // Not from the TOML: set by `edgepipe run`. With a spool, a sink whose destination does not
  // answer at start waits for it (records kept in the spool) instead of failing the start; a
  // one-shot `replay` keeps failing fast on a wrong or unreachable destination.
  bool sinks_may_start_down = false;
  spool_config spool;
  http_server_config http_server;
  log_format logs = log_format::text;
  std::uint64_t drain_timeout_ms = 10000;  // SIGTERM: how long to wait for the drain
  /// True when some source is polled over HTTP.
  bool has_http_sources() const {
    for (const auto& s : sources)
      if (s.http) return true;
    return false;
  }
};

/// "250ms" | "5s" | "2m" | "1h" | plain integer milliseconds -> milliseconds.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);

/// "max" | "1x" | "2.5x" | "10x" -> factor (0 for max). nullopt when malformed.
std::optional<double> parse_speed(std::string_view text);

}  // namespace edgepipe
