// The whole daemon's configuration as plain data: what config_loader produces from TOML and
// validates before any thread starts, and what the pipeline is built from. Defaults come from
// the schema table (config/config_schema.hpp), the only place they are written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config_schema.hpp"
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
  std::uint64_t rotate_bytes = schema::default_uint("file", "rotate_bytes");  // 0 = never
  file_format format = file_format::value;
  bool fsync = schema::default_bool("file", "fsync");  // fdatasync each flush and on close
};

struct kafka_sink_config {
  std::string brokers{schema::default_string("kafka", "brokers")};
  std::string topic;  // one topic for every source; "" = prefix + source
  std::string topic_prefix{schema::default_string("kafka", "topic_prefix")};
  int partitions = schema::default_int("kafka", "partitions");  // topics created on start
  int replication_factor = schema::default_int("kafka", "replication_factor");
  bool create_topics = schema::default_bool("kafka", "create_topics");
  std::string compression{schema::default_string("kafka", "compression")};
  int linger_ms = schema::default_int("kafka", "linger_ms");
  int batch_bytes = schema::default_int("kafka", "batch_bytes");  // librdkafka batch.size
  std::uint64_t max_buffer_bytes = schema::default_uint("kafka", "max_buffer_bytes");
  // Messages produced and not yet answered by a delivery report; at the limit the sink waits for
  // reports before producing more. Keeps the sink from running far ahead of librdkafka's broker
  // thread (stages/sinks/kafka/kafka_sink.cpp). Needs >= rate x round trip to the brokers.
  int max_in_flight = schema::default_int("kafka", "max_in_flight");
  int message_timeout_ms = schema::default_int("kafka", "message_timeout_ms");
  std::string acks{schema::default_string("kafka", "acks")};
  // Exactly once for read_committed consumers (stages/sinks/kafka/kafka_transactions.cpp).
  bool exactly_once = schema::default_bool("kafka", "exactly_once");
  int transaction_records = schema::default_int("kafka", "transaction_records");
  std::uint64_t transaction_interval_ms = schema::default_uint("kafka", "transaction_interval");
  std::uint64_t transaction_interval_busy_ms =  // 0: transaction_interval_ms always
      schema::default_uint("kafka", "transaction_interval_busy");
  std::uint64_t transaction_idle_ms = schema::default_uint("kafka", "transaction_idle");  // 0: off
  std::string state_topic{schema::default_string("kafka", "state_topic")};
  // Not from the sink's table: [pipeline] node_id, or one derived from the host name and the
  // spool directory (stages/sinks/sink_factory.cpp).
  std::string node_id;
  std::vector<std::pair<std::string, std::string>> properties;  // extra librdkafka settings
};

enum class mongo_mode { insert, upsert };

struct mongo_index_spec {
  std::vector<std::pair<std::string, int>> keys;  // field, 1 or -1
  bool unique = false;
};

struct mongo_sink_config {
  std::string uri{schema::default_string("mongodb", "uri")};
  std::string database{schema::default_string("mongodb", "database")};
  std::string collection;  // "" = the record's source name
  mongo_mode mode = mongo_mode::insert;
  std::string write_concern{schema::default_string("mongodb", "write_concern")};
  int write_timeout_ms = schema::default_int("mongodb", "write_timeout_ms");
  int bulk_documents = schema::default_int("mongodb", "bulk_documents");  // insert mode
  // Upserts per bulk write. FerretDB's SQLite backend stops answering on unordered upsert
  // bulks of more than ~100 documents; against a real mongod this can be raised.
  int upsert_bulk_size = schema::default_int("mongodb", "upsert_bulk_size");
  int max_retries = schema::default_int("mongodb", "max_retries");  // transient errors
  int retry_backoff_ms = schema::default_int("mongodb", "retry_backoff_ms");
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
  std::string path{schema::default_string("dead_letter", "path")};
  std::size_t max_bytes = schema::default_uint("dead_letter", "max_bytes");  // per entry
  std::uint64_t rotate_bytes = schema::default_uint("dead_letter", "rotate_bytes");
};

/// Capture of every HTTP response in the trace format (docs/trace-format.md).
struct capture_config {
  std::string path;
  std::uint64_t rotate_bytes = schema::default_uint("capture", "rotate_bytes");  // 0 = never
};

/// The operator's HTTP endpoint: /metrics (Prometheus text) and /health.
struct http_server_config {
  bool enabled = schema::default_bool("http", "enabled");
  std::string listen{schema::default_string("http", "listen")};
  // Optional access control (resolved from "env:NAME" / "file:PATH" at load time; never logged).
  std::string bearer_token;  // requests must send "Authorization: Bearer <token>"
  std::string basic_auth;    // "user:password" for HTTP basic auth
};

enum class log_format { text, json };

struct pipeline_config {
  std::string origin;  // the config file's path, or "<embedded default>"
  std::size_t batch_records = schema::default_uint("pipeline", "batch_records");
  std::size_t batch_bytes = schema::default_uint("pipeline", "batch_bytes");
  std::size_t ring_capacity = schema::default_uint("pipeline", "ring_capacity");  // batches
  std::size_t max_payload_bytes = schema::default_uint("pipeline", "max_payload_bytes");
  // Bytes all HTTP sources together may hold in bodies being received (docs/configuration.md).
  std::uint64_t http_body_budget = schema::default_uint("pipeline", "http_body_budget");
  // [pipeline] cpus: the CPUs every thread runs on, sorted; empty = "all" (the affinity the
  // process was started with). Applied by app/run_pipeline.cpp before each pipeline is made.
  std::vector<int> cpus;
  // [pipeline] cpus = "auto" (the loader's default): one CPU of those the process may use while
  // it keeps up, all of them once it does not (platform/cpu_placement.hpp); `cpus` is then empty.
  bool cpus_auto = true;
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
  std::uint64_t drain_timeout_ms = schema::default_uint("pipeline", "drain_timeout");
  // Memory (docs/architecture.md, "Batches and memory"): free batches a pool keeps, the replay
  // window, and how long idle before memory is given back (0 = never).
  std::uint64_t pool_bytes = schema::default_uint("pipeline", "pool_bytes");
  std::size_t replay_window_bytes = schema::default_uint("pipeline", "replay_window_bytes");
  std::uint64_t idle_trim_ms = schema::default_uint("pipeline", "idle_trim");
  std::string node_id;  // [pipeline] node_id; empty = derived (stages/sinks/sink_factory.cpp)
  /// True when some source is polled over HTTP.
  bool has_http_sources() const {
    for (const auto& s : sources)
      if (s.http) return true;
    return false;
  }
};

/// The longest duration any setting accepts (one year): far beyond every key's own maximum,
/// and small enough that milliseconds -> nanoseconds cannot wrap.
inline constexpr std::uint64_t kMaxDurationMs = std::uint64_t{366} * 24 * 3'600'000;
/// Longest source or sink name (they also become file names, thread names and labels).
inline constexpr std::size_t kMaxNameLength = 64;

/// "250ms" | "5s" | "2m" | "1h" | plain integer milliseconds -> milliseconds. nullopt when
/// malformed, negative or longer than kMaxDurationMs.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);

/// "max" | "1x" | "2.5x" | "10x" -> factor (0 for max). nullopt when malformed.
std::optional<double> parse_speed(std::string_view text);

}  // namespace edgepipe
