#include "config/config_loader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config_schema.hpp"
#include "config/toml_reader.hpp"
#include "core/kafka_topic_name.hpp"
#include "core/record.hpp"
#include "platform/cpu_list.hpp"
#include "platform/text_escape.hpp"
#include "platform/thread.hpp"
#include "platform/trim.hpp"

namespace edgepipe {

extern const std::string_view kEmbeddedDefaultConfig;

std::optional<double> parse_speed(std::string_view text) {
  if (text == "max") return 0.0;
  if (text.size() < 2 || text.back() != 'x') return std::nullopt;
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size() - 1, v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() - 1 || !(v > 0) ||
      !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::uint64_t scale = 1;
  std::string_view number = text;
  auto ends = [&](std::string_view suffix) {
    return text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
  };
  if (ends("ms")) {
    number = text.substr(0, text.size() - 2);
  } else if (ends("s")) {
    scale = 1000;
    number = text.substr(0, text.size() - 1);
  } else if (ends("m")) {
    scale = 60'000;
    number = text.substr(0, text.size() - 1);
  } else if (ends("h")) {
    scale = 3'600'000;
    number = text.substr(0, text.size() - 1);
  }
  double v = 0;
  const auto r = std::from_chars(number.data(), number.data() + number.size(), v);
  if (r.ec != std::errc() || r.ptr != number.data() + number.size() || v < 0 || !std::isfinite(v))
    return std::nullopt;
  // Converting a double above 2^64 to an integer is undefined, and callers turn milliseconds
  // into nanoseconds: anything longer than kMaxDurationMs is not a duration we accept.
  const double ms = v * static_cast<double>(scale);
  if (!(ms <= static_cast<double>(kMaxDurationMs))) return std::nullopt;
  return static_cast<std::uint64_t>(ms);
}

namespace {

using config_detail::one_of;
using config_detail::opt;
using config_detail::read_sink;
using config_detail::read_source;
using config_detail::resolve_secret;
using config_detail::section;
using config_detail::toml_reader;

bool read_spool(toml_reader& r, const toml::table& t, spool_config& sp) {
  const std::string path = "spool";
  if (!r.check_keys(t, path, section("spool"))) return false;
  if (!r.get_string(t, path, "dir", sp.dir)) return false;
  std::string fsync{schema::default_string("spool", "fsync")};
  if (!r.get_string(t, path, "fsync", fsync)) return false;
  if (t.contains("fsync") &&
      !one_of(r, t, path, "fsync", fsync, {"every_batch", "interval", "off"}))
    return false;
  sp.fsync = fsync == "every_batch" ? fsync_policy::every_batch
             : fsync == "off"       ? fsync_policy::off
                                    : fsync_policy::interval;
  if (!r.get_duration(t, path, opt("spool", "fsync_interval"), sp.fsync_interval_ms)) return false;
  if (!r.get_uint(t, path, opt("spool", "segment_bytes"), sp.segment_bytes)) return false;
  if (!r.get_uint(t, path, opt("spool", "max_bytes"), sp.max_bytes)) return false;
  if (sp.max_bytes < 4 * sp.segment_bytes)
    return r.fail_key(
        t, t.contains("max_bytes") ? "max_bytes" : "segment_bytes", "spool.max_bytes",
        "must be at least 4 x segment_bytes (" + std::to_string(4 * sp.segment_bytes) +
            ") so that rolls and drops have room; got " + std::to_string(sp.max_bytes));
  std::string on_full{schema::default_string("spool", "on_full")};
  if (!r.get_string(t, path, "on_full", on_full)) return false;
  if (t.contains("on_full") && !one_of(r, t, path, "on_full", on_full, {"block", "drop_oldest"}))
    return false;
  sp.on_full = on_full == "drop_oldest" ? full_policy::drop_oldest : full_policy::block;
  if (!r.get_duration(t, path, opt("spool", "retry_backoff"), sp.retry_backoff_ms)) return false;
  if (!r.get_duration(t, path, opt("spool", "retry_backoff_max"), sp.retry_backoff_max_ms))
    return false;
  if (sp.retry_backoff_max_ms < sp.retry_backoff_ms)
    return r.fail_key(t, "retry_backoff_max", "spool.retry_backoff_max",
                      "must not be shorter than retry_backoff");
  if (!r.get_duration(t, path, opt("spool", "ledger_interval"), sp.ledger_interval_ms))
    return false;
  if (!r.get_bool(t, path, "direct_io", sp.direct_io)) return false;
  if (!r.get_uint(t, path, opt("spool", "memory_bytes"), sp.memory_bytes)) return false;
  if (!r.get_uint(t, path, opt("spool", "write_buffer_bytes"), sp.write_buffer_bytes)) return false;
  return true;
}

// A thread can widen its own affinity to any CPU of the machine (sched_setaffinity is bounded by
// the cgroup's cpuset, not by the creator's mask): a stage pinned outside [pipeline] cpus would
// leave the set, so that is refused.
bool check_pin_in_cpus(toml_reader& r, const toml::table& t, const std::string& path,
                       std::string_view key, const std::optional<int>& cpu,
                       const std::vector<int>& cpus) {
  if (!cpu || cpus.empty() || std::binary_search(cpus.begin(), cpus.end(), *cpu)) return true;
  return r.fail_key(t, key, path + "." + std::string(key),
                    "CPU " + std::to_string(*cpu) + " is outside pipeline.cpus = \"" +
                        format_cpu_list(cpus) + "\"");
}

// [pipeline] cpus, after source_cpu and transform_cpu. Checked against the CPUs the process was
// started with, not the calling thread's: a SIGHUP reload is loaded on the main thread, which the
// running config's set may have narrowed.
bool read_cpus(toml_reader& r, const toml::table& t, pipeline_config& c) {
  std::string text{schema::default_string("pipeline", "cpus")};
  if (!r.get_string(t, "pipeline", "cpus", text)) return false;
  c.cpus_auto = trim_whitespace(text) == "auto";
  if (c.cpus_auto) return true;  // pins are allowed anywhere; with one, the placement stays put
  std::string why;
  if (!parse_cpu_list(text, c.cpus, why))
    return r.fail_key(t, "cpus", "pipeline.cpus", why + " or \"auto\"");
  const std::vector<int> available = startup_cpus();
  for (const int cpu : c.cpus) {
    if (available.empty() || std::binary_search(available.begin(), available.end(), cpu)) continue;
    return r.fail_key(t, "cpus", "pipeline.cpus",
                      "CPU " + std::to_string(cpu) +
                          " is not available to this process (it may run on " +
                          format_cpu_list(available) + ")");
  }
  return check_pin_in_cpus(r, t, "pipeline", "source_cpu", c.source_cpu, c.cpus) &&
         check_pin_in_cpus(r, t, "pipeline", "transform_cpu", c.transform_cpu, c.cpus);
}

// Over 100 lines on purpose: the top-level tables in the order the schema documents them, each
// a few lines that hand off to its own reader.
bool read_root(toml_reader& r, const toml::table& root, pipeline_config& c) {
  static constexpr option_doc kTop[] = {
      {"pipeline", "", "", ""}, {"replay", "", "", ""},  {"dead_letter", "", "", ""},
      {"sinks", "", "", ""},    {"sources", "", "", ""}, {"capture", "", "", ""},
      {"http", "", "", ""},     {"log", "", "", ""},     {"spool", "", "", ""}};
  if (!r.check_keys(root, "", kTop)) {
    // Drop the leading dot of a top-level key in the message.
    const auto pos = r.error.find("key '.");
    if (pos != std::string::npos) r.error.erase(pos + 5, 1);
    return false;
  }
  auto table_at = [&](std::string_view key, const toml::table*& out) {
    out = nullptr;
    const toml::node* n = root.get(key);
    if (n == nullptr) return true;
    if (!n->is_table())
      return r.fail(*n, std::string(key), "expected a table [" + std::string(key) + "]");
    out = n->as_table();
    return true;
  };
  const toml::table* t = nullptr;
  if (!table_at("pipeline", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "pipeline", section("pipeline"))) return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "batch_records"), c.batch_records))
      return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "batch_bytes"), c.batch_bytes)) return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "ring_capacity"), c.ring_capacity))
      return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "max_payload_bytes"), c.max_payload_bytes))
      return false;
    if (!r.get_uint(*t, "pipeline", opt("pipeline", "http_body_budget"), c.http_body_budget))
      return false;
    if (!r.get_cpu(*t, "pipeline", "source_cpu", c.source_cpu)) return false;
    if (!r.get_cpu(*t, "pipeline", "transform_cpu", c.transform_cpu)) return false;
    if (!read_cpus(r, *t, c)) return false;
    if (!r.get_duration(*t, "pipeline", opt("pipeline", "drain_timeout"), c.drain_timeout_ms))
      return false;
    if (!r.get_uint(*t, "pipeline", opt("pipeline", "pool_bytes"), c.pool_bytes)) return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "replay_window_bytes"), c.replay_window_bytes))
      return false;
    if (!r.get_duration(*t, "pipeline", opt("pipeline", "idle_trim"), c.idle_trim_ms)) return false;
    if (!r.get_string(*t, "pipeline", "node_id", c.node_id)) return false;
  }
  if (!table_at("capture", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "capture", section("capture"))) return false;
    capture_config cc;
    if (!t->contains("path")) return r.fail_at(*t, "capture.path", "missing");
    if (!r.get_string(*t, "capture", "path", cc.path)) return false;
    if (!r.get_uint(*t, "capture", opt("capture", "rotate_bytes"), cc.rotate_bytes)) return false;
    c.capture = cc;
  }
  if (!table_at("http", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "http", section("http"))) return false;
    if (!r.get_bool(*t, "http", "enabled", c.http_server.enabled)) return false;
    if (!r.get_string(*t, "http", "listen", c.http_server.listen)) return false;
    if (c.http_server.listen.rfind(':') == std::string::npos)
      return r.fail_key(*t, "listen", "http.listen", "expected ADDRESS:PORT, e.g. 127.0.0.1:9464");
    for (const char* key : {"bearer_token", "basic_auth"}) {
      std::string& v = std::string(key) == "bearer_token" ? c.http_server.bearer_token
                                                          : c.http_server.basic_auth;
      if (!r.get_string(*t, "http", key, v)) return false;
      if (!t->contains(key)) continue;
      // A secret in the config file would be readable by whoever reads the config.
      if (v.rfind("env:", 0) != 0 && v.rfind("file:", 0) != 0)
        return r.fail_key(*t, key, std::string("http.") + key,
                          "must be \"env:NAME\" or \"file:PATH\" (keep secrets out of the config)");
      if (!resolve_secret(r, *t->get(key), std::string("http.") + key, v)) return false;
      if (v.empty()) return r.fail_key(*t, key, std::string("http.") + key, "is empty");
      if (std::string(key) == "basic_auth" && v.find(':') == std::string::npos)
        return r.fail_key(*t, key, "http.basic_auth", "must hold user:password");
    }
    if (!c.http_server.bearer_token.empty() && !c.http_server.basic_auth.empty())
      return r.fail_key(*t, "basic_auth", "http.basic_auth",
                        "give bearer_token or basic_auth, not both");
  }
  if (!table_at("log", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "log", section("log"))) return false;
    std::string format{schema::default_string("log", "format")};
    if (!r.get_string(*t, "log", "format", format)) return false;
    if (t->contains("format") && !one_of(r, *t, "log", "format", format, {"text", "json"}))
      return false;
    c.logs = format == "json" ? log_format::json : log_format::text;
  }
  if (!table_at("replay", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "replay", section("replay"))) return false;
    replay_config rc;
    if (!t->contains("trace")) return r.fail_at(*t, "replay.trace", "missing");
    if (!r.get_string(*t, "replay", "trace", rc.trace)) return false;
    std::string speed{schema::default_string("replay", "speed")};
    if (!r.get_string(*t, "replay", "speed", speed)) return false;
    const auto factor = parse_speed(speed);
    if (!factor)
      return r.fail_key(*t, "speed", "replay.speed", "expected \"max\", \"1x\" or \"Nx\"");
    rc.speed = *factor;
    if (!r.get_string(*t, "replay", "source", rc.source)) return false;
    c.replay = rc;
  }
  if (!table_at("spool", t)) return false;
  if (t && !read_spool(r, *t, c.spool)) return false;
  if (!table_at("dead_letter", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "dead_letter", section("dead_letter"))) return false;
    if (!r.get_string(*t, "dead_letter", "path", c.dead_letter.path)) return false;
    if (!r.get_size(*t, "dead_letter", opt("dead_letter", "max_bytes"), c.dead_letter.max_bytes))
      return false;
    if (!r.get_uint(*t, "dead_letter", opt("dead_letter", "rotate_bytes"),
                    c.dead_letter.rotate_bytes))
      return false;
  }
  if (!table_at("sinks", t)) return false;
  if (t) {
    for (auto&& [k, v] : *t) {
      const std::string name(k.str());
      if (!r.check_name(v, "sinks", name)) return false;
      if (!v.is_table()) return r.fail(v, "sinks." + name, "expected a table [sinks." + name + "]");
      sink_config s;
      if (!read_sink(r, name, *v.as_table(), s)) return false;
      if (!check_pin_in_cpus(r, *v.as_table(), "sinks." + name, "cpu", s.cpu, c.cpus)) return false;
      c.sinks.push_back(std::move(s));
    }
  }
  if (!table_at("sources", t)) return false;
  if (t) {
    for (auto&& [k, v] : *t) {
      const std::string name(k.str());
      if (!r.check_name(v, "sources", name)) return false;
      if (!v.is_table())
        return r.fail(v, "sources." + name, "expected a table [sources." + name + "]");
      source_spec s;
      if (!read_source(r, name, *v.as_table(), s)) return false;
      c.sources.push_back(std::move(s));
    }
  }
  return true;
}

}  // namespace

namespace {

// Overlay wins; tables merge member by member, so an included file supplies defaults.
void deep_merge(toml::table& base, const toml::table& overlay) {
  for (auto&& [k, v] : overlay) {
    toml::node* existing = base.get(k);
    if (existing && existing->is_table() && v.is_table()) {
      deep_merge(*existing->as_table(), *v.as_table());
    } else {
      base.insert_or_assign(k, v);
    }
  }
}

status parse_toml(std::string_view text, const std::string& origin, toml::table& root) {
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream s;
    s << origin << ":" << e.source().begin.line << ":" << e.source().begin.column
      << ": TOML syntax error: " << e.description();
    return status::error(s.str());
  }
  return status::ok();
}

status read_text(const std::string& path, std::string& text) {
  // An ifstream opens a directory and then reads nothing: say what it is instead of loading "".
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return status::error("cannot read config file " + path + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::error(errno_message("cannot read config file " + path, errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return status::error(errno_message("cannot read config file " + path, errno));
  text = buf.str();
  return status::ok();
}

// `include = "base.toml"` (or a list; "embedded:default" is the built-in config): the included
// files are read first and this file's keys override theirs. Paths are relative to the file.
status include_error(const std::string& origin, const std::string& name, const status& why) {
  return status::error(origin + ": key 'include' = \"" + name + "\": " + why.message());
}

status resolve_includes(toml::table& root, const std::string& origin, int depth) {
  toml::node* inc = root.get("include");
  if (inc == nullptr) return status::ok();
  if (depth > 4) return status::error(origin + ": includes nested more than 4 deep");
  std::vector<std::string> names;
  if (inc->is_string()) {
    names.emplace_back(inc->as_string()->get());
  } else if (inc->is_array()) {
    for (auto&& e : *inc->as_array()) {
      if (!e.is_string()) return status::error(origin + ": key 'include': expected file names");
      names.emplace_back(e.as_string()->get());
    }
  } else {
    return status::error(origin + ": key 'include': expected a file name or a list of them");
  }
  toml::table merged;
  for (const auto& name : names) {
    std::string text;
    std::string path = name;
    if (name == "embedded:default") {
      text = std::string(kEmbeddedDefaultConfig);
      path = "<embedded default config>";
    } else {
      const std::filesystem::path p(name);
      if (p.is_relative()) path = (std::filesystem::path(origin).parent_path() / p).string();
      if (status s = read_text(path, text); !s) return include_error(origin, name, s);
    }
    toml::table included;
    if (status s = parse_toml(text, path, included); !s) return s;
    if (status s = resolve_includes(included, path, depth + 1); !s) return s;
    deep_merge(merged, included);
  }
  root.erase("include");
  deep_merge(merged, root);
  root = std::move(merged);
  return status::ok();
}

}  // namespace

status load_config_text(std::string_view text, const std::string& origin,
                        const stage_checks& checks, pipeline_config& out) {
  out = pipeline_config{};
  out.origin = origin;
  toml::table root;
  if (status s = parse_toml(text, origin, root); !s) return s;
  if (status s = resolve_includes(root, origin, 0); !s) return s;
  config_detail::toml_reader r{origin, checks, {}};
  if (!read_root(r, root, out)) return status::error(r.error);
  if (out.sources.size() >= kUnknownSource)
    return status::error(origin + ": too many sources (at most " +
                         std::to_string(kUnknownSource - 1) + ")");
  return status::ok();
}

status load_config_file(const std::string& path, const stage_checks& checks, pipeline_config& out) {
  std::string text;
  if (status s = read_text(path, text); !s) return s;
  return load_config_text(text, path, checks, out);
}

std::string_view default_config_text() noexcept { return kEmbeddedDefaultConfig; }

status load_default_config(const stage_checks& checks, pipeline_config& out) {
  return load_config_text(kEmbeddedDefaultConfig, "<embedded default config>", checks, out);
}

namespace {

// Empty when `topic` follows Kafka's rule (core/kafka_topic_name.hpp), else why not.
std::string kafka_topic_problem(std::string_view topic) {
  if (topic.empty()) return "is empty";
  if (topic == "." || topic == "..") return "cannot be \".\" or \"..\"";
  if (topic.size() > kMaxKafkaTopicLength)
    return "is " + std::to_string(topic.size()) + " characters long, over Kafka's " +
           std::to_string(kMaxKafkaTopicLength);
  return kafka_topic_chars(topic)
             ? ""
             : "holds a character Kafka does not allow (only A-Z a-z 0-9 . _ -)";
}

// The topics a kafka sink writes (its topic, or topic_prefix + each JSON source's name, and the
// exactly-once state topic) are valid Kafka topic names: refused here rather than by the broker
// once the daemon runs (a daemon whose brokers are down at start would only learn it later).
status check_kafka_topics(const pipeline_config& c, const sink_config& k) {
  const std::string at = c.origin + ": sinks." + k.name + ".";
  auto check = [&](const char* key, const std::string& topic) {
    const std::string why = kafka_topic_problem(topic);
    return why.empty()
               ? status::ok()
               : status::error(at + key + " = " + json_string(topic) + ": the topic name " + why);
  };
  if (k.kafka.exactly_once)
    if (status s = check("state_topic", k.kafka.state_topic); !s) return s;
  if (!k.kafka.topic.empty()) return check("topic", k.kafka.topic);
  for (const source_spec& src : c.sources) {
    if (src.cdc) continue;  // its records name their own topics
    const std::string topic = k.kafka.topic_prefix + src.name;
    const std::string why = kafka_topic_problem(topic);
    if (why.empty()) continue;
    std::string message = at;
    message += "topic_prefix = ";
    message += json_string(k.kafka.topic_prefix);
    message += ": the topic of sources.";
    message += src.name;
    message += " (";
    message += json_string(topic);
    message += ") ";
    message += why;
    return status::error(message);
  }
  return status::ok();
}

}  // namespace

status validate_config(const pipeline_config& c, const stage_checks& checks) {
  if (c.sources.empty())
    return status::error(c.origin + ": no [sources.<name>] defined: nothing to transform");
  if (c.sinks.empty())
    return status::error(c.origin + ": no [sinks.<name>] defined and no --sink given");
  for (std::size_t i = 0; i < c.sources.size(); ++i) {
    const source_spec& s = c.sources[i];
    if (!s.cdc) continue;
    if (!c.spool.enabled())
      return status::error(c.origin + ": sources." + s.name +
                           " (postgres_cdc) needs a spool ([spool] dir, not --spool none): a "
                           "change is confirmed to PostgreSQL only once the spool holds it");
    for (std::size_t j = 0; j < i; ++j)
      if (c.sources[j].cdc && c.sources[j].cdc->slot == s.cdc->slot &&
          c.sources[j].cdc->conninfo == s.cdc->conninfo)
        return status::error(c.origin + ": sources." + s.name + " and sources." +
                             c.sources[j].name + " use the same replication slot '" + s.cdc->slot +
                             "'");
  }
  for (const auto& s : c.sources) {
    if (s.cdc) continue;  // no transform: the source builds its records itself
    if (status st = checks.check_transform(s); !st)
      return status::error(c.origin + ": " + st.message());
  }
  for (std::size_t i = 0; i < c.sinks.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (c.sinks[i].type == "file" && c.sinks[j].type == "file" &&
          c.sinks[i].file.path == c.sinks[j].file.path)
        return status::error(c.origin + ": sinks." + c.sinks[i].name + " and sinks." +
                             c.sinks[j].name + " write the same file '" + c.sinks[i].file.path +
                             "'");
    }
    if (c.sinks[i].type == "kafka")
      if (status s = check_kafka_topics(c, c.sinks[i]); !s) return s;
    if (c.sinks[i].type == "file" && c.sinks[i].file.path == c.dead_letter.path)
      return status::error(c.origin + ": sinks." + c.sinks[i].name +
                           " writes the dead-letter file '" + c.dead_letter.path + "'");
  }
  if (c.replay && !c.replay->source.empty()) {
    const bool known = std::any_of(c.sources.begin(), c.sources.end(), [&](const source_spec& s) {
      return s.name == c.replay->source;
    });
    if (!known)
      return status::error(c.origin + ": replay source '" + c.replay->source +
                           "' is not one of the configured [sources]");
  }
  return status::ok();
}

}  // namespace edgepipe