// One declarative table per config section: key, type, default, range, description. It is the
// only place a default or a range is written: the config structs take their defaults from it
// at compile time (schema::default_uint and friends are consteval: a missing key or a default
// that does not parse fails the build), the loader takes each key's range from it, and
// `edgepipe config-doc` prints it as docs/configuration.md.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace edgepipe {

struct option_doc {
  std::string_view key;
  std::string_view type;
  /// Integers: digits; durations: a quoted duration ("\"10s\""); strings: quoted; booleans:
  /// true/false; anything else ("(required)", "(none)", "[]", "{}") is shown as it is.
  std::string_view default_text;
  std::string_view description;
  /// Accepted values of an integer or duration, "LO..HI" (2^N allowed; durations with a unit).
  /// The loader enforces it; tests/config_bounds_test.cpp checks both ends against the loader.
  std::string_view range = {};
};

struct section_doc {
  std::string_view id;    // short name for lookups: "pipeline", "kafka", "source", ...
  std::string_view path;  // e.g. "pipeline", "sources.<name>", "sinks.<name> (kafka)"
  std::string_view description;
  std::span<const option_doc> options;
};

std::span<const section_doc> config_sections() noexcept;

namespace schema_tables {

inline constexpr option_doc kPipeline[] = {
    {"batch_records", "integer", "1024", "records per batch handed to the sinks", "1..2^20"},
    {"batch_bytes", "integer", "1048576", "bytes per record batch before it is handed on",
     "4096..2^28"},
    {"ring_capacity", "integer", "8",
     "batches each ring edge holds; a full ring blocks its producer", "2..65536"},
    {"max_payload_bytes", "integer", "16777216",
     "largest API response body accepted; larger ones are counted and skipped", "1024..2^30"},
    {"http_body_budget", "integer", "33554432",
     "bytes that all HTTP sources together may hold in response bodies being received (memory "
     "stays bounded however many sources send large bodies at once), counted as the receive "
     "buffers' capacity, including the copy while a buffer grows: one body of "
     "max_body_bytes needs about 1.5 x max_body_bytes of it. A transfer that would take the "
     "total past it is aborted, counted (edgepipe_http_budget_aborts_total) and its source "
     "backs off",
     "2^20..2^34"},
    {"cpus", "string", "\"auto\"",
     "CPUs the whole process runs on. \"auto\": one CPU (the last the process may use) while "
     "it keeps up, all of them once it is busy (>= 75% of the one CPU over 20 ms) or behind (a "
     "source finding the transform's input ring full in half of 100 ms) or shared (other "
     "processes taking half of the one CPU over 1 s), one again after 5 s below 0.75 of a CPU "
     "(twice as long after each quick return): at modest paced rates one CPU gives the lowest "
     "latency and uses "
     "the least CPU (no cross-CPU wake-ups), at full speed the stages need them all; a pinned "
     "source_cpu, transform_cpu or sink cpu turns it off (threads stay where started). Or a list "
     "as in taskset -c: \"0\", \"0-3\", \"0,2\", \"0-1,4\"; \"all\" = the affinity edgepipe "
     "was started with. Every thread follows it, including the client libraries' (librdkafka, "
     "libcurl) and the kernel's io_uring workers (docs/operations.md). Each CPU of a list must "
     "be one the process may run on, and source_cpu, transform_cpu and a sink's cpu must be in "
     "it"},
    {"source_cpu", "integer or \"none\"", "\"none\"", "CPU the source thread is pinned to"},
    {"transform_cpu", "integer or \"none\"", "\"none\"", "CPU the transform thread is pinned to"},
    {"drain_timeout", "duration", "\"10s\"",
     "on SIGTERM/SIGINT, how long the drain may take before the daemon exits anyway", "0ms..1h"},
    {"pool_bytes", "integer", "67108864",
     "bytes of returned batches each batch pool (payloads, records) keeps for reuse; a batch "
     "returned beyond it is freed. Batches in flight are bounded by ring_capacity, batch_bytes "
     "and [spool] memory_bytes",
     "0..2^34"},
    {"replay_window_bytes", "integer", "1048576",
     "the replay source's read window: each payload batch of a replay takes one (a body larger "
     "than it gets a window of its own size). The payload ring holds up to ring_capacity of "
     "them: the largest share of the peak memory at full speed",
     "2^16..2^28"},
    {"idle_trim", "duration", "\"5s\"",
     "after this long without a batch, memory is given back: the batch pools' free batches, "
     "the spool's unused write buffers and the allocator's free pages (malloc_trim); \"0s\" = "
     "never",
     "0ms..1h"},
    {"node_id", "string", "\"\"",
     "this node's stable id (exactly-once Kafka sinks derive their transactional.id and state "
     "key from it); empty = derived from the host name and the spool directory"},
};

inline constexpr option_doc kReplay[] = {
    {"trace", "string", "(required)",
     "trace file (edgepipe format) or JSON Lines file that `edgepipe run` replays"},
    {"speed", "string", "\"max\"",
     "\"max\", \"1x\" (original pace) or \"Nx\" (N times faster, e.g. \"10x\", \"0.5x\")"},
    {"source", "string", "\"\"",
     "treat every payload as this source (needed for JSON Lines, which carry no source)"},
};

inline constexpr option_doc kDeadLetter[] = {
    {"path", "string", "\"edgepipe-out/dead-letter.jsonl\"",
     "JSON Lines file of rejected payloads and records, with reason, source and bytes"},
    {"max_bytes", "integer", "4096",
     "offending bytes kept per entry; longer ones are truncated and marked", "64..2^20"},
    {"rotate_bytes", "integer", "67108864", "rotate the file at this size (0 = never)", "0..2^50"},
};

inline constexpr option_doc kFileSink[] = {
    {"type", "string", "(required)", "\"file\""},
    {"path", "string", "(required)",
     "JSON Lines output file; rotated files are PATH.1, PATH.2, ... A path that is not a regular "
     "file (/dev/null, a terminal, a pipe such as /dev/stdout under `| jq`), or that names one "
     "of the process's descriptors (/dev/stdout, /dev/fd/N, even redirected to a file), is "
     "written as a stream: in order, never rotated or cut back; a named pipe must have a reader "
     "at start"},
    {"rotate_bytes", "integer", "268435456", "rotate at this size (0 = never, else at least 4096)",
     "0..2^50"},
    {"format", "string", "\"value\"",
     "\"value\" (one transformed record per line) or \"envelope\" ({key, source, event_time, "
     "ingest_time, sequence, value})"},
    {"fsync", "boolean", "false", "fdatasync after every batch and on close"},
    {"cpu", "integer or \"none\"", "\"none\"", "CPU the sink thread is pinned to"},
};

inline constexpr option_doc kKafkaSink[] = {
    {"type", "string", "(required)", "\"kafka\""},
    {"brokers", "string", "\"127.0.0.1:9092\"", "bootstrap servers (librdkafka bootstrap.servers)"},
    {"topic", "string", "\"\"",
     "one topic for every source; empty = topic_prefix + source name (every topic name: 1..249 "
     "of A-Z a-z 0-9 . _ -, checked at load)"},
    {"topic_prefix", "string", "\"edgepipe.\"", "prefix of per-source topics"},
    {"partitions", "integer", "3", "partitions of topics created on start", "1..10000"},
    {"replication_factor", "integer", "1", "replication factor of topics created on start",
     "1..16"},
    {"create_topics", "boolean", "true", "create missing topics on start"},
    {"compression", "string", "\"lz4\"", "\"none\", \"gzip\", \"snappy\", \"lz4\" or \"zstd\""},
    {"linger_ms", "integer", "5", "librdkafka linger.ms", "0..60000"},
    {"batch_bytes", "integer", "1048576", "librdkafka batch.size", "1024..104857600"},
    {"max_buffer_bytes", "integer", "8388608",
     "bytes librdkafka may hold in memory, and bytes of record batches the sink keeps for "
     "messages not yet answered; a full buffer blocks the sink",
     "2^20..2^31"},
    {"max_in_flight", "integer", "8192",
     "messages produced and not yet confirmed; at the limit the sink waits for "
     "delivery reports. Raise it to at least messages/s x round trip on slow links",
     "1..10000000"},
    {"message_timeout_ms", "integer", "30000",
     "after this a message counts as failed (librdkafka message.timeout.ms)", "100..3600000"},
    {"acks", "string", "\"all\"",
     "\"all\", \"1\" or \"0\" (the producer is idempotent with \"all\")"},
    {"exactly_once", "boolean", "false",
     "transactional producer: each transaction carries a range of spool records and the sink's "
     "watermark (state_topic), so read_committed consumers see every record once "
     "(docs/durability.md); needs acks = \"all\""},
    {"transaction_records", "integer", "100000",
     "exactly_once: records per transaction at most (committed sooner at transaction_interval)",
     "1..10000000"},
    {"transaction_interval", "duration", "\"100ms\"",
     "exactly_once: longest time a transaction stays open before it is committed while the "
     "sink keeps up",
     "1ms..1h"},
    {"transaction_interval_busy", "duration", "\"1s\"",
     "exactly_once: longest time a transaction stays open while the sink is saturated (it spent "
     "at least 3/4 of the transaction's time writing): fewer commits, whose CPU then goes to "
     "records; \"0ms\" or below transaction_interval: transaction_interval always",
     "0ms..1h"},
    {"transaction_idle", "duration", "\"5ms\"",
     "exactly_once: the open transaction is committed sooner, once the sink has had no records "
     "for this long while no other commit runs (the end of a burst does not wait for "
     "transaction_interval); \"0ms\": only transaction_records and transaction_interval",
     "0ms..1h"},
    {"state_topic", "string", "\"edgepipe-state\"",
     "exactly_once: compacted topic holding each sink's committed watermark, key "
     "<node_id>/<sink>"},
    {"properties", "table", "{}",
     "extra librdkafka settings, string values, e.g. { \"socket.timeout.ms\" = \"5000\" }"},
    {"cpu", "integer or \"none\"", "\"none\"", "CPU the sink thread is pinned to"},
};

inline constexpr option_doc kMongoSink[] = {
    {"type", "string", "(required)", "\"mongodb\""},
    {"uri", "string", "\"mongodb://127.0.0.1:27017\"", "MongoDB connection string"},
    {"database", "string", "\"edgepipe\"", "database name"},
    {"collection", "string", "\"\"", "collection for every source; empty = the source name"},
    {"mode", "string", "\"insert\"",
     "\"insert\" (unordered bulk insert, _id = record key) or \"upsert\" (replace by key)"},
    {"write_concern", "string", "\"1\"", "\"0\", \"1\", \"2\", ... or \"majority\""},
    {"write_timeout_ms", "integer", "10000", "write concern timeout (ms)", "0..3600000"},
    {"bulk_documents", "integer", "1024",
     "documents per bulk insert; the default matches pipeline.batch_records, so a batch is one "
     "round trip",
     "1..100000"},
    {"upsert_bulk_size", "integer", "25",
     "documents per bulk upsert; FerretDB's SQLite backend stalls on large upsert "
     "bulks, a real mongod does not",
     "1..100000"},
    {"max_retries", "integer", "8", "retries of transient errors, with exponential backoff",
     "0..1000"},
    {"retry_backoff_ms", "integer", "100", "first retry delay; doubles each time, capped at 30 s",
     "1..60000"},
    {"indexes", "array of tables", "[]",
     "indexes created on start: { keys = { field = 1 }, unique = false }"},
    {"dead_letter_path", "string", "\"\"",
     "JSON Lines file for documents MongoDB rejects for good; empty = next to [dead_letter].path"},
    {"cpu", "integer or \"none\"", "\"none\"", "CPU the sink thread is pinned to"},
};

inline constexpr option_doc kSource[] = {
    {"type", "string", "\"\"",
     "empty: a JSON source (trace replay, HTTP polling) reshaped by its fields; \"postgres_cdc\": "
     "PostgreSQL change data capture, see sources.<name> (postgres_cdc)"},
    {"records", "string (JSON pointer)", "\"\"",
     "where the records are: \"\" = the payload root (an object is one record, an array holds one "
     "record per element), or a pointer such as \"/results\""},
    {"key", "string (JSON pointer)", "\"\"",
     "member whose value becomes the record key (Kafka key, MongoDB _id); a record without it is "
     "rejected"},
    {"event_time", "string (JSON pointer)", "\"\"",
     "member holding the event time (Unix seconds/ms or ISO 8601); default: receive time"},
    {"fields", "array of tables", "(required)",
     "output fields, in order (see sources.<name>.fields)"},
    {"filter", "array of tables", "[]",
     "conditions every kept record meets (see sources.<name>.filter); others are dropped and "
     "counted"},
    {"url", "string", "",
     "poll this URL over HTTP (`edgepipe run`/`record`); without it the source only comes from "
     "traces. Redirects are followed, at most 5 hops: an http:// URL may be sent on to http or "
     "https, an https:// URL only to https (never downgraded); a redirect not followed is "
     "counted as class 3xx"},
    {"method", "string", "\"GET\"", "HTTP method"},
    {"body", "string", "\"\"", "request body (POST/PUT)"},
    {"headers", "table", "{}",
     "request headers; a value \"env:NAME\" or \"file:PATH\" is read from the environment or a "
     "file at load time (for API keys; never logged)"},
    {"interval", "duration", "\"60s\"",
     "time between polls (\"500ms\", \"5s\", \"2m\", \"1h\" or integer ms)", "10ms..168h"},
    {"schedule", "string", "\"\"",
     "cron-like schedule instead of interval: \"minute hour day-of-month month day-of-week\" in "
     "UTC, e.g. \"*/10 * * * *\" (fields: *, N, a-b, a,b, */n)"},
    {"jitter", "duration", "\"0s\"", "random extra delay 0..jitter added to each poll", "0ms..1h"},
    {"timeout", "duration", "\"30s\"",
     "whole-request timeout; a poll that runs out of time is counted as a timeout (and its "
     "partial body dead-lettered with reason \"timed out\")",
     "10ms..1h"},
    {"connect_timeout", "duration", "\"10s\"", "connect timeout", "10ms..1h"},
    {"backoff_initial", "duration", "\"1s\"",
     "first retry delay after a failure (an error status, a transport error or timeout, an "
     "oversized body); the delay starts at the larger of interval and backoff_initial, so a "
     "retry never comes sooner than the regular poll would, and doubles (with jitter) up to "
     "backoff_max. A Retry-After header on 429/503 overrides it",
     "1ms..24h"},
    {"backoff_max", "duration", "\"5m\"",
     "cap of the retry delay (a retry never comes sooner than interval, even when backoff_max is "
     "shorter)",
     "1ms..24h"},
    {"conditional", "boolean", "true",
     "send If-None-Match / If-Modified-Since; 304 responses are counted, not re-emitted"},
    {"max_body_bytes", "integer", "0",
     "largest body accepted (0 = pipeline.max_payload_bytes); a larger one is cut, "
     "dead-lettered and counted, and the source backs off as after a failure",
     "0..2^30"},
};

inline constexpr option_doc kPostgresCdc[] = {
    {"type", "string", "(required)", "\"postgres_cdc\""},
    {"conninfo", "string", "(required)",
     "libpq connection string (keywords or URI), without the password, e.g. \"host=127.0.0.1 "
     "port=5432 dbname=edgepipe user=edgepipe\"; the user needs the REPLICATION attribute"},
    {"password", "string", "(none)",
     "\"env:NAME\" (\"env:NAME:-DEFAULT\": DEFAULT when NAME is unset) or \"file:PATH\" "
     "(read at load time, never logged); absent: libpq's own (PGPASSWORD, ~/.pgpass)"},
    {"publication", "string", "\"edgepipe_cdc\"",
     "publication to stream (must exist; FOR ALL TABLES also captures tables created later)"},
    {"slot", "string", "\"edgepipe\"",
     "logical replication slot (1..63 of a-z 0-9 _), created on first start; one per source"},
    {"tables", "array of strings", "[]",
     "\"schema.table\" to capture; empty = every table of the publication"},
    {"topic_prefix", "string", "\"edgepipe\"",
     "events go to stream <topic_prefix>.<schema>.<table>: the Kafka topic and the MongoDB "
     "collection (Debezium's topic.prefix; also source.name)"},
    {"snapshot", "string", "\"initial\"",
     "\"initial\" (read the tables once, consistently with the slot, when the slot is created), "
     "\"never\" or \"initial_only\" (snapshot, then stop reading)"},
    {"decimal_handling", "string", "\"string\"",
     "numeric columns: \"string\", \"double\" or \"precise\" (Debezium's base64 Decimal)"},
    {"tombstones", "boolean", "true", "a null-valued event with the key after each delete"},
    {"status_interval", "duration", "\"10s\"",
     "standby status updates to PostgreSQL at least this often (also on keepalive requests and "
     "within 1 s of the durable position moving)",
     "100ms..1h"},
    {"batch_records", "integer", "1024",
     "events per record batch handed on (a batch also goes at each commit when the pipeline is "
     "idle)",
     "1..2^20"},
};

inline constexpr option_doc kCapture[] = {
    {"path", "string", "(required)",
     "write every HTTP response (status, timing, body) to this trace file"},
    {"rotate_bytes", "integer", "268435456", "rotate at this size (PATH.1, PATH.2, ...); 0 = never",
     "0..2^50"},
};

inline constexpr option_doc kHttpServer[] = {
    {"enabled", "boolean", "true",
     "serve the status page (/), /api/status, /metrics (Prometheus text) and /health"},
    {"listen", "string", "\"127.0.0.1:9464\"", "address:port to bind (loopback by default)"},
    {"bearer_token", "string", "(none)",
     "\"env:NAME\" or \"file:PATH\": every request but /health must send `Authorization: "
     "Bearer <token>`; for a listen address that is not loopback"},
    {"basic_auth", "string", "(none)",
     "\"env:NAME\" or \"file:PATH\" holding `user:password`: HTTP basic auth instead of a "
     "bearer token"},
};

inline constexpr option_doc kLog[] = {
    {"format", "string", "\"text\"", "\"text\" or \"json\" (one object per line)"},
};

inline constexpr option_doc kField[] = {
    {"name", "string", "(required)", "output member name"},
    {"from", "string (JSON pointer)", "", "take the value at this pointer in the record"},
    {"template", "string", "",
     "build a string: \"{/name/title}. {/name/first}\"; '{{' and '}}' are literal braces"},
    {"const", "string/number/boolean", "", "a constant value"},
    {"type", "string", "\"keep\"",
     "cast: \"keep\", \"string\", \"double\", \"int\", \"bool\", \"timestamp\" (Unix ms from "
     "seconds, ms or ISO 8601)"},
    {"hash", "string", "\"none\"",
     "\"md5\" or \"sha256\": replace the value by the hex digest of its text"},
    {"required", "boolean", "false",
     "reject the record (dead-letter) when the value is missing or null and there is no default"},
    {"default", "string/number/boolean", "", "value used when the input is missing or null"},
};

inline constexpr option_doc kFilter[] = {
    {"field", "string (JSON pointer)", "(required)", "member to test"},
    {"op", "string", "\"eq\"",
     "\"eq\", \"ne\", \"gt\", \"ge\", \"lt\", \"le\", \"exists\", \"missing\""},
    {"value", "string/number/boolean", "", "operand (numbers compare numerically)"},
};

inline constexpr option_doc kSpool[] = {
    {"dir", "string", "\"\"",
     "spool directory; \"\" = no spool (sinks fed from memory; a crash or an outage loses what "
     "was in flight). See docs/durability.md"},
    {"fsync", "string", "\"interval\"",
     "\"every_batch\" (fdatasync each group of batches), \"interval\" (fdatasync every "
     "fsync_interval) or \"off\" (never: survives kill -9, not a power cut). Sinks see records "
     "once written (kill -9 keeps them); upstream acknowledgements (a CDC LSN) and segment "
     "deletion wait for the sync"},
    {"fsync_interval", "duration", "\"10ms\"", "group commit interval for fsync = \"interval\"",
     "1ms..60s"},
    {"segment_bytes", "integer", "67108864", "segment file size before a roll", "2^20..2^40"},
    {"max_bytes", "integer", "1073741824", "disk limit of the spool (at least 4 x segment_bytes)",
     "2^22..2^50"},
    {"on_full", "string", "\"block\"",
     "at max_bytes: \"block\" (sources wait for the sinks) or \"drop_oldest\" (delete the oldest "
     "segment; every record a sink had not confirmed is counted and logged)"},
    {"retry_backoff", "duration", "\"200ms\"",
     "first wait before a sink is sent its failed records again (doubles up to retry_backoff_max)",
     "1ms..1h"},
    {"retry_backoff_max", "duration", "\"30s\"",
     "longest wait between two attempts (at least retry_backoff)", "1ms..24h"},
    {"ledger_interval", "duration", "\"200ms\"",
     "how often each sink's confirmed watermark is written to <dir>/<sink>.ledger", "1ms..1h"},
    {"direct_io", "boolean", "true",
     "write segments with O_DIRECT (no page-cache copy, cheap fdatasync); a file system without "
     "O_DIRECT (tmpfs) falls back to buffered writes with a warning"},
    {"memory_bytes", "integer", "6291456",
     "the newest spooled batches kept in memory: a sink that keeps up takes them from "
     "there instead of reading the disk back; when it is full, the spool waits (at most 250 ms) "
     "for a sink that has not taken its oldest batch yet, so a slow sink slows the pipeline "
     "rather than reading everything back (0 = always read the disk). Sinks take a batch once "
     "it is written, so it need not cover a sync interval",
     "0..2^40"},
    {"write_buffer_bytes", "integer", "2097152",
     "io_uring write buffers of each segment writer (1 MiB each, at least 2): allocated as "
     "writes need them, given back after [pipeline] idle_trim. More absorbs slower fdatasyncs",
     "2^21..2^30"},
};

inline constexpr section_doc kSections[] = {
    {"pipeline", "pipeline", "Sizes and CPU pinning of the runtime.", kPipeline},
    {"replay", "replay",
     "Optional: the trace `edgepipe run` plays (overridden by `edgepipe replay --trace`).",
     kReplay},
    {"dead_letter", "dead_letter", "Where rejected payloads and records go.", kDeadLetter},
    {"spool", "spool",
     "The store-and-forward spool between the transform and the sinks (docs/durability.md).",
     kSpool},
    {"capture", "capture", "Optional: record live HTTP traffic (same as `edgepipe record --out`).",
     kCapture},
    {"http", "http", "The operator endpoint.", kHttpServer},
    {"log", "log", "Logging.", kLog},
    {"file", "sinks.<name>",
     "A sink. type = \"file\": JSON Lines written with io_uring. Sink and source names are 1..64 "
     "characters of A-Z a-z 0-9 _ . - (starting with a letter, digit or _).",
     kFileSink},
    {"kafka", "sinks.<name> (kafka)",
     "A sink. type = \"kafka\": librdkafka producer; delivery reports are the only truth.",
     kKafkaSink},
    {"mongodb", "sinks.<name> (mongodb)",
     "A sink. type = \"mongodb\": libmongoc bulk writes; every reply checked.", kMongoSink},
    {"source", "sources.<name>",
     "A source's transform; <name> is the source name carried by trace frames.", kSource},
    {"postgres_cdc", "sources.<name> (postgres_cdc)",
     "A source. type = \"postgres_cdc\": PostgreSQL logical replication (pgoutput) as Debezium "
     "change events, one stream per table (docs/cdc.md). Needs a [spool]: a change is confirmed "
     "to PostgreSQL only once it is durable there.",
     kPostgresCdc},
    {"field", "sources.<name>.fields[]", "One output field.", kField},
    {"filter", "sources.<name>.filter[]", "One filter condition.", kFilter},
};

}  // namespace schema_tables

namespace schema {

/// Bounds of an integer (as is) or a duration (in milliseconds).
struct bounds {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
};

constexpr std::string_view unquoted(std::string_view s) noexcept {
  return s.size() >= 2 && s.front() == '"' && s.back() == '"' ? s.substr(1, s.size() - 2) : s;
}

/// "1024" or "2^20" (no unit).
constexpr std::optional<std::uint64_t> parse_count(std::string_view s) noexcept {
  const bool power = s.starts_with("2^");
  if (power) s.remove_prefix(2);
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!power) return v;
  if (v > 63) return std::nullopt;
  return std::uint64_t{1} << v;
}

/// "10ms", "5s", "2m", "168h" -> milliseconds.
constexpr std::optional<std::uint64_t> parse_duration(std::string_view s) noexcept {
  std::uint64_t unit = 0;
  if (s.ends_with("ms")) {
    unit = 1;
    s.remove_suffix(2);
  } else if (s.ends_with('s')) {
    unit = 1000;
    s.remove_suffix(1);
  } else if (s.ends_with('m')) {
    unit = 60'000;
    s.remove_suffix(1);
  } else if (s.ends_with('h')) {
    unit = 3'600'000;
    s.remove_suffix(1);
  } else {
    return std::nullopt;
  }
  const auto v = parse_count(s);
  if (!v || s.starts_with("2^")) return std::nullopt;
  return *v * unit;
}

constexpr bool is_duration(const option_doc& o) noexcept { return o.type == "duration"; }
constexpr bool is_integer(const option_doc& o) noexcept { return o.type == "integer"; }

/// The option's accepted range (durations in ms); nullopt when it has none or it is malformed.
constexpr std::optional<bounds> range_of(const option_doc& o) noexcept {
  const auto dots = o.range.find("..");
  if (dots == std::string_view::npos) return std::nullopt;
  const std::string_view lo = o.range.substr(0, dots), hi = o.range.substr(dots + 2);
  const auto l = is_duration(o) ? parse_duration(lo) : parse_count(lo);
  const auto h = is_duration(o) ? parse_duration(hi) : parse_count(hi);
  if (!l || !h || *l > *h) return std::nullopt;
  return bounds{*l, *h};
}

/// The default of an integer (as is) or a duration (ms); nullopt for other types.
constexpr std::optional<std::uint64_t> default_number(const option_doc& o) noexcept {
  if (is_integer(o)) return parse_count(o.default_text);
  if (is_duration(o)) return parse_duration(unquoted(o.default_text));
  return std::nullopt;
}

/// The option `key` of section `id`. consteval: an unknown name fails the build.
consteval const option_doc& option(std::string_view id, std::string_view key) {
  for (const section_doc& s : schema_tables::kSections) {
    if (s.id != id) continue;
    for (const option_doc& o : s.options)
      if (o.key == key) return o;
  }
  throw "config schema: no such option";  // not a constant expression: a compile error
}

/// Numeric default (integers as is, durations in ms), checked against the range at compile time.
consteval std::uint64_t default_uint(std::string_view id, std::string_view key) {
  const option_doc& o = option(id, key);
  const auto v = default_number(o);
  if (!v) throw "config schema: the default is not a number or duration";
  if (const auto r = range_of(o); r && (*v < r->lo || *v > r->hi))
    throw "config schema: the default is outside the range";
  return *v;
}
consteval int default_int(std::string_view id, std::string_view key) {
  const std::uint64_t v = default_uint(id, key);
  if (v > 0x7fffffff) throw "config schema: the default does not fit an int";
  return static_cast<int>(v);
}
consteval bool default_bool(std::string_view id, std::string_view key) {
  const option_doc& o = option(id, key);
  if (o.type != "boolean" || (o.default_text != "true" && o.default_text != "false"))
    throw "config schema: not a boolean default";
  return o.default_text == "true";
}
/// A string default without its quotes.
consteval std::string_view default_string(std::string_view id, std::string_view key) {
  const option_doc& o = option(id, key);
  if (o.default_text.size() < 2 || o.default_text.front() != '"')
    throw "config schema: not a quoted string default";
  return unquoted(o.default_text);
}

}  // namespace schema
}  // namespace edgepipe
