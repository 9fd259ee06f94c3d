// Plain data describing one source's transform, as written in the TOML config and validated by
// config/config_loader. The transform stage compiles it (stages/transform/transform_program).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config_schema.hpp"

namespace edgepipe {

enum class value_cast { keep, string, double_, int_, bool_, timestamp };
enum class digest_kind { none, md5, sha256 };
enum class filter_op { eq, ne, gt, ge, lt, le, exists, missing };

/// A literal from the config (default, constant, filter operand), already typed.
struct literal_value {
  enum class kind { null, string, number, boolean } type = kind::null;
  std::string text;  // string: its characters; number: canonical text; boolean: true/false
};

struct field_spec {
  std::string name;
  // Exactly one of these three says where the value comes from.
  std::optional<std::string> from;           // JSON pointer into the record
  std::optional<std::string> template_text;  // "{/name/title}. {/name/first}"
  std::optional<literal_value> constant;     // a literal
  value_cast cast = value_cast::keep;
  digest_kind hash = digest_kind::none;
  bool required = schema::default_bool(
      "field", "required");                    // missing/null (and no default) rejects the record
  std::optional<literal_value> default_value;  // used when the value is missing or null
};

struct filter_spec {
  std::string pointer;
  filter_op op = filter_op::eq;
  std::optional<literal_value> value;  // not used by exists/missing
};

/// How a source is polled over HTTP (absent: the source only comes from traces).
struct http_poll_spec {
  std::string url;
  std::string method{schema::default_string("source", "method")};
  std::string body;  // request body for POST/PUT
  // name, value; values may come from the environment or a file (resolved at load time, and
  // never logged).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string schedule;  // cron-like "*/5 * * * *" (UTC); replaces interval
  std::uint64_t interval_ms = schema::default_uint("source", "interval");
  std::uint64_t jitter_ms = schema::default_uint("source", "jitter");    // random 0..jitter
  std::uint64_t timeout_ms = schema::default_uint("source", "timeout");  // whole request
  std::uint64_t connect_timeout_ms = schema::default_uint("source", "connect_timeout");
  std::uint64_t backoff_initial_ms = schema::default_uint("source", "backoff_initial");
  std::uint64_t backoff_max_ms = schema::default_uint("source", "backoff_max");
  bool conditional = schema::default_bool("source", "conditional");  // If-None-Match etc.
  std::uint64_t max_body_bytes = schema::default_uint("source", "max_body_bytes");  // 0 = pipeline
};

/// A PostgreSQL change data capture source (type = "postgres_cdc", docs/cdc.md). Plain data;
/// the stage maps it onto pgcdc::postgres_cdc_options.
struct postgres_cdc_spec {
  std::string conninfo;
  std::string password;  // resolved from env:/file: at load time; never logged
  std::string publication{schema::default_string("postgres_cdc", "publication")};
  std::string slot{schema::default_string("postgres_cdc", "slot")};
  std::vector<std::string> tables;  // "schema.table"; empty = the whole publication
  std::string topic_prefix{schema::default_string("postgres_cdc", "topic_prefix")};
  std::string snapshot{schema::default_string("postgres_cdc", "snapshot")};
  std::string decimal_handling{schema::default_string("postgres_cdc", "decimal_handling")};
  bool tombstones = schema::default_bool("postgres_cdc", "tombstones");
  std::uint64_t status_interval_ms = schema::default_uint("postgres_cdc", "status_interval");
  std::uint64_t batch_records = schema::default_uint("postgres_cdc", "batch_records");
};

struct source_spec {
  std::string name;
  std::string records_pointer;     // "" = the payload root (an array: each element a record)
  std::string key_pointer;         // "" = records have no key
  std::string event_time_pointer;  // "" = event time is the receive time
  std::vector<field_spec> fields;
  std::vector<filter_spec> filters;  // all must hold, or the record is dropped (counted)
  std::optional<http_poll_spec> http;
  std::optional<postgres_cdc_spec> cdc;  // set: no transform, the events are the records
};

}  // namespace edgepipe
