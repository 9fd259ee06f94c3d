// [sinks.<name>]: a file, Kafka or MongoDB sink, read into a sink_config. Part of the config
// loader (config/toml_reader.hpp).
#include <string>
#include <string_view>

#include "config/toml_reader.hpp"

namespace edgepipe::config_detail {
namespace {

bool read_file_sink(toml_reader& r, const toml::table& t, const std::string& path, sink_config& s) {
  if (!r.check_keys(t, path, section("sinks.<name>"))) return false;
  if (!t.contains("path")) return r.fail_at(t, path + ".path", "missing");
  if (!r.get_string(t, path, "path", s.file.path)) return false;
  if (s.file.path.empty()) return r.fail_key(t, "path", path + ".path", "must not be empty");
  if (!r.get_uint(t, path, opt("file", "rotate_bytes"), s.file.rotate_bytes)) return false;
  if (s.file.rotate_bytes != 0 && s.file.rotate_bytes < 4096)
    return r.fail_key(t, "rotate_bytes", path + ".rotate_bytes", "must be 0 or at least 4096");
  std::string format{schema::default_string("file", "format")};
  if (!r.get_string(t, path, "format", format)) return false;
  if (format == "value") {
    s.file.format = file_format::value;
  } else if (format == "envelope") {
    s.file.format = file_format::envelope;
  } else {
    return r.fail_key(t, "format", path + ".format", "expected \"value\" or \"envelope\"");
  }
  return r.get_bool(t, path, "fsync", s.file.fsync);
}

bool read_kafka_sink(toml_reader& r, const toml::table& t, const std::string& path,
                     sink_config& s) {
  kafka_sink_config& k = s.kafka;
  if (!r.check_keys(t, path, section("sinks.<name> (kafka)"))) return false;
  if (!r.get_string(t, path, "brokers", k.brokers)) return false;
  if (k.brokers.empty()) return r.fail_key(t, "brokers", path + ".brokers", "must not be empty");
  if (!r.get_string(t, path, "topic", k.topic)) return false;
  if (!r.get_string(t, path, "topic_prefix", k.topic_prefix)) return false;
  if (!r.get_size(t, path, opt("kafka", "partitions"), k.partitions)) return false;
  if (!r.get_size(t, path, opt("kafka", "replication_factor"), k.replication_factor)) return false;
  if (!r.get_bool(t, path, "create_topics", k.create_topics)) return false;
  if (!r.get_string(t, path, "compression", k.compression)) return false;
  if (t.contains("compression") &&
      !one_of(r, t, path, "compression", k.compression, {"none", "gzip", "snappy", "lz4", "zstd"}))
    return false;
  if (!r.get_size(t, path, opt("kafka", "linger_ms"), k.linger_ms)) return false;
  if (!r.get_size(t, path, opt("kafka", "batch_bytes"), k.batch_bytes)) return false;
  if (!r.get_uint(t, path, opt("kafka", "max_buffer_bytes"), k.max_buffer_bytes)) return false;
  if (!r.get_size(t, path, opt("kafka", "max_in_flight"), k.max_in_flight)) return false;
  if (!r.get_size(t, path, opt("kafka", "message_timeout_ms"), k.message_timeout_ms)) return false;
  if (!r.get_string(t, path, "acks", k.acks)) return false;
  if (t.contains("acks") && !one_of(r, t, path, "acks", k.acks, {"all", "1", "0", "-1"}))
    return false;
  if (!r.get_bool(t, path, "exactly_once", k.exactly_once)) return false;
  if (!r.get_size(t, path, opt("kafka", "transaction_records"), k.transaction_records))
    return false;
  if (!r.get_duration(t, path, opt("kafka", "transaction_interval"), k.transaction_interval_ms))
    return false;
  if (!r.get_duration(t, path, opt("kafka", "transaction_interval_busy"),
                      k.transaction_interval_busy_ms))
    return false;
  if (!r.get_duration(t, path, opt("kafka", "transaction_idle"), k.transaction_idle_ms))
    return false;
  if (!r.get_string(t, path, "state_topic", k.state_topic)) return false;
  if (k.state_topic.empty())
    return r.fail_key(t, "state_topic", path + ".state_topic", "must not be empty");
  if (k.exactly_once && k.acks != "all" && k.acks != "-1")
    return r.fail_key(t, "acks", path + ".acks", "exactly_once needs acks = \"all\"");
  if (const toml::node* n = t.get("properties")) {
    if (!n->is_table()) return r.fail(*n, path + ".properties", "expected a table of strings");
    for (auto&& [pk, pv] : *n->as_table()) {
      if (!pv.is_string())
        return r.fail(pv, path + ".properties." + std::string(pk.str()), "expected a string");
      k.properties.emplace_back(std::string(pk.str()), std::string(pv.as_string()->get()));
    }
  }
  return true;
}

bool read_mongo_sink(toml_reader& r, const toml::table& t, const std::string& path,
                     sink_config& s) {
  mongo_sink_config& m = s.mongo;
  if (!r.check_keys(t, path, section("sinks.<name> (mongodb)"))) return false;
  if (!r.get_string(t, path, "uri", m.uri)) return false;
  if (m.uri.rfind("mongodb://", 0) != 0 && m.uri.rfind("mongodb+srv://", 0) != 0)
    return r.fail_key(t, "uri", path + ".uri", "must start with mongodb:// or mongodb+srv://");
  if (!r.get_string(t, path, "database", m.database)) return false;
  if (m.database.empty() || m.database.find_first_of("/\\. \"$") != std::string::npos)
    return r.fail_key(t, "database", path + ".database", "not a valid MongoDB database name");
  if (!r.get_string(t, path, "collection", m.collection)) return false;
  std::string mode{schema::default_string("mongodb", "mode")};
  if (!r.get_string(t, path, "mode", mode)) return false;
  if (t.contains("mode") && !one_of(r, t, path, "mode", mode, {"insert", "upsert"})) return false;
  m.mode = mode == "upsert" ? mongo_mode::upsert : mongo_mode::insert;
  if (!r.get_string(t, path, "write_concern", m.write_concern)) return false;
  if (t.contains("write_concern") && m.write_concern != "majority" &&
      (m.write_concern.empty() ||
       m.write_concern.find_first_not_of("0123456789") != std::string::npos))
    return r.fail_key(t, "write_concern", path + ".write_concern",
                      "expected a number of nodes (\"0\", \"1\", ...) or \"majority\"");
  if (!r.get_size(t, path, opt("mongodb", "write_timeout_ms"), m.write_timeout_ms)) return false;
  if (!r.get_size(t, path, opt("mongodb", "bulk_documents"), m.bulk_documents)) return false;
  if (!r.get_size(t, path, opt("mongodb", "upsert_bulk_size"), m.upsert_bulk_size)) return false;
  if (!r.get_size(t, path, opt("mongodb", "max_retries"), m.max_retries)) return false;
  if (!r.get_size(t, path, opt("mongodb", "retry_backoff_ms"), m.retry_backoff_ms)) return false;
  if (!r.get_string(t, path, "dead_letter_path", m.dead_letter_path)) return false;
  return each_table_in_array(
      r, t, "indexes", path + ".indexes", [&](const toml::table& it, const std::string& p) {
        static constexpr option_doc kIndex[] = {{"keys", "", "", ""}, {"unique", "", "", ""}};
        if (!r.check_keys(it, p, kIndex)) return false;
        mongo_index_spec idx;
        const toml::node* keys = it.get("keys");
        if (keys == nullptr || !keys->is_table() || keys->as_table()->empty())
          return keys ? r.fail(*keys, p + ".keys", "expected a table such as { id = 1 }")
                      : r.fail_at(it, p + ".keys", "missing");
        for (auto&& [kk, kv] : *keys->as_table()) {
          if (!kv.is_integer() || (kv.as_integer()->get() != 1 && kv.as_integer()->get() != -1))
            return r.fail(kv, p + ".keys." + std::string(kk.str()), "expected 1 or -1");
          idx.keys.emplace_back(std::string(kk.str()), static_cast<int>(kv.as_integer()->get()));
        }
        if (!r.get_bool(it, p, "unique", idx.unique)) return false;
        m.indexes.push_back(std::move(idx));
        return true;
      });
}

}  // namespace

bool read_sink(toml_reader& r, const std::string& name, const toml::table& t, sink_config& s) {
  const std::string path = "sinks." + name;
  s.name = name;
  if (!t.contains("type"))
    return r.fail_at(t, path + ".type", "missing (type = \"file\", \"kafka\" or \"mongodb\")");
  if (!r.get_string(t, path, "type", s.type)) return false;
  if (!r.get_cpu(t, path, "cpu", s.cpu)) return false;
  if (s.type == "file") return read_file_sink(r, t, path, s);
  if (s.type == "kafka") return read_kafka_sink(r, t, path, s);
  if (s.type == "mongodb") return read_mongo_sink(r, t, path, s);
  return r.fail_key(t, "type", path + ".type",
                    "unknown sink type (expected file, kafka or mongodb)");
}

}  // namespace edgepipe::config_detail
