// Every integer and duration setting has a documented range (config/config_schema.hpp, printed
// by `edgepipe config-doc` into docs/configuration.md), and the loader enforces exactly that
// range: both ends are accepted, one past either end is rejected with the key named. Durations
// too long to be meant are rejected instead of wrapping; names keep to a plain character set.
#include <gtest/gtest.h>

#include <map>

#include "config/config_loader.hpp"
#include "config/config_schema.hpp"
#include "config_test_util.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::kMinimal;
using testing::load_error;

/// "123", "2^20", or with a unit for durations ("10ms", "1h") -> integer (ms for durations).
std::optional<std::uint64_t> parse_bound(std::string_view text, bool duration) {
  if (const auto caret = text.find('^'); caret != std::string_view::npos) {
    if (text.substr(0, caret) != "2") return std::nullopt;
    return std::uint64_t{1} << std::stoi(std::string(text.substr(caret + 1)));
  }
  if (duration) return parse_duration_ms(text);
  std::uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return text.empty() ? std::nullopt : std::optional(v);
}

/// How to put one key of each section into a config that otherwise loads.
const std::map<std::string_view, std::string>& section_prefixes() {
  static const std::map<std::string_view, std::string> m = {
      {"pipeline", "[pipeline]\n"},
      {"dead_letter", "[dead_letter]\n"},
      {"spool", "[spool]\ndir = \"sp\"\n"},
      {"capture", "[capture]\npath = \"c.trace\"\n"},
      {"sinks.<name>", "[sinks.t]\ntype = \"file\"\npath = \"t.jsonl\"\n"},
      {"sinks.<name> (kafka)", "[sinks.t]\ntype = \"kafka\"\n"},
      {"sinks.<name> (mongodb)", "[sinks.t]\ntype = \"mongodb\"\n"},
      {"sources.<name> (postgres_cdc)",
       "[spool]\ndir = \"sp\"\n[sources.t]\ntype = \"postgres_cdc\"\nconninfo = \"host=x\"\n"},
      {"sources.<name>",
       "[sources.t]\nurl = \"http://127.0.0.1:1/x\"\nfields = [ { name = \"a\", from = \"/a\" } "
       "]\n"},
  };
  return m;
}

/// Keys whose bounds meet another key's rule (spool.max_bytes >= 4 x segment_bytes...): the
/// other key is set out of the way.
std::string companion(std::string_view section, std::string_view key) {
  if (section != "spool") return "";
  if (key == "segment_bytes") return "max_bytes = 1125899906842624\n";
  if (key == "max_bytes") return "segment_bytes = 1048576\n";
  if (key == "retry_backoff") return "retry_backoff_max = \"24h\"\n";
  if (key == "retry_backoff_max") return "retry_backoff = 1\n";
  return "";
}

TEST(ConfigBounds, EveryIntegerAndDurationHasADocumentedRangeThatTheLoaderEnforces) {
  int checked = 0;
  for (const auto& section : config_sections()) {
    for (const auto& o : section.options) {
      const bool duration = o.type == "duration";
      if (o.type != "integer" && !duration) continue;
      const std::string where = std::string(section.path) + "." + std::string(o.key);
      ASSERT_FALSE(o.range.empty()) << where << " has no documented range";
      const auto dots = o.range.find("..");
      ASSERT_NE(dots, std::string_view::npos) << where << ": range '" << o.range << "'";
      const auto lo = parse_bound(o.range.substr(0, dots), duration);
      const auto hi = parse_bound(o.range.substr(dots + 2), duration);
      ASSERT_TRUE(lo && hi && *lo <= *hi) << where << ": range '" << o.range << "'";
      const auto prefix = section_prefixes().find(section.path);
      ASSERT_NE(prefix, section_prefixes().end())
          << "section [" << section.path << "] has numeric keys: add it to this test";
      auto with = [&](std::uint64_t v) {
        return std::string(kMinimal) + prefix->second + companion(section.path, o.key) +
               std::string(o.key) + " = " + std::to_string(v) + "\n";
      };
      const std::string key_path = std::string(section.path.substr(0, section.path.find('.'))) +
                                   (section.path.find('.') == std::string_view::npos ? "" : ".t") +
                                   "." + std::string(o.key);
      EXPECT_EQ(load_error(with(*lo)), "") << where << " = " << *lo << " (lower end)";
      EXPECT_EQ(load_error(with(*hi)), "") << where << " = " << *hi << " (upper end)";
      const std::string above = load_error(with(*hi + 1));
      EXPECT_NE(above.find(key_path), std::string::npos)
          << where << " = " << *hi + 1 << " must be rejected naming " << key_path << "; got '"
          << above << "'";
      if (*lo > 0) {
        const std::string below = load_error(with(*lo - 1));
        EXPECT_NE(below.find(key_path), std::string::npos)
            << where << " = " << *lo - 1 << " must be rejected; got '" << below << "'";
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 35);
}

TEST(ConfigBounds, HugeDurationsAreRejectedInsteadOfWrapping) {
  EXPECT_EQ(parse_duration_ms("1h"), 3'600'000u);
  EXPECT_EQ(parse_duration_ms("250ms"), 250u);
  // Each of these is above 2^64 ms or wraps when turned into nanoseconds.
  for (const char* text : {"1e300h", "1e30s", "18446744073709551616ms", "5124095576030431h",
                           "307445734561826s", "9000000h", "1e20"}) {
    EXPECT_FALSE(parse_duration_ms(text)) << text;
  }
  const std::string base = std::string(kMinimal) + "[sources.s]\nurl = \"http://x/\"\n" +
                           "fields = [ { name = \"t\", from = \"/t\" } ]\n";
  std::string e = load_error(base + "interval = \"1e300h\"\n");
  EXPECT_NE(e.find("sources.s.interval"), std::string::npos) << e;
  e = load_error(base + "timeout = 9223372036854775807\n");
  EXPECT_NE(e.find("sources.s.timeout"), std::string::npos) << e;
  e = load_error(std::string(kMinimal) + "[pipeline]\ndrain_timeout = \"100000h\"\n");
  EXPECT_NE(e.find("pipeline.drain_timeout"), std::string::npos) << e;
  EXPECT_NE(e.find("between"), std::string::npos) << e;
}

TEST(ConfigBounds, SourceAndSinkNamesKeepToAPlainCharacterSet) {
  const std::string fields = "fields = [ { name = \"t\", from = \"/t\" } ]\n";
  EXPECT_EQ(load_error(std::string(kMinimal) +
                       "[sinks.ok-name_1]\ntype = \"file\"\npath = "
                       "\"x.jsonl\"\n[sources.\"iss.v2\"]\n" +
                       fields),
            "");
  struct bad {
    std::string toml_name;  // as written in the TOML header
    std::string shown;      // how the error shows it (escaped, quoted)
  };
  for (const bad& b :
       std::vector<bad>{{"\"a b\"", "\"a b\""},
                        {"\"q\\\"uote\"", "\"q\\\"uote\""},
                        {"\"new\\nline\"", "\"new\\nline\""},
                        {"\"-leading\"", "\"-leading\""},
                        {"\"..\"", "\"..\""},
                        {"\"sl/ash\"", "\"sl/ash\""},
                        {"\"" + std::string(65, 'a') + "\"", "\"" + std::string(65, 'a') + "\""}}) {
    for (const char* kind : {"sinks", "sources"}) {
      const std::string body =
          std::string(kind) == "sinks" ? "type = \"file\"\npath = \"y.jsonl\"\n" : fields;
      const std::string e =
          load_error(std::string(kMinimal) + "\n[" + kind + "." + b.toml_name + "]\n" + body);
      EXPECT_NE(e.find("edge.toml:"), std::string::npos) << e;                       // file:line
      EXPECT_NE(e.find("key '" + std::string(kind) + "."), std::string::npos) << e;  // key
      EXPECT_NE(e.find(b.shown), std::string::npos) << b.shown << " in: " << e;      // value
      EXPECT_NE(e.find("A-Z a-z 0-9 _ . -"), std::string::npos) << e;  // what is allowed
    }
  }
}

TEST(ConfigBounds, ConfigurationDocIsWhatConfigDocPrints) {
  const auto r = testing::run_edgepipe("config-doc");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, testing::read_file(EDGEPIPE_SOURCE_DIR "/docs/configuration.md"))
      << "docs/configuration.md is out of date: run `edgepipe config-doc > "
         "docs/configuration.md`";
}

// Defaults are written once, in the schema table: the structs' numeric, boolean and string
// initializers are consteval lookups into it. The enum-valued ones are mapped from the table's
// string by the loader; a config that names the section without the key must come out as a
// default-constructed struct says.
TEST(ConfigSchema, EnumDefaultsOfTheStructsAreTheTablesStrings) {
  pipeline_config c;
  const std::string toml =
      std::string(kMinimal) + "[spool]\ndir = \"sp\"\n[log]\n[sinks.m]\ntype = \"mongodb\"\n";
  ASSERT_TRUE(load_config_text(toml, "edge.toml", pipeline_stage_checks(), c).is_ok());
  EXPECT_EQ(c.spool.fsync, spool_config{}.fsync);
  EXPECT_EQ(c.spool.on_full, spool_config{}.on_full);
  EXPECT_EQ(c.logs, pipeline_config{}.logs);
  ASSERT_EQ(c.sinks.size(), 2u);
  for (const sink_config& s : c.sinks) {
    if (s.type == "file") {
      EXPECT_EQ(s.file.format, file_sink_config{}.format);
    } else {
      EXPECT_EQ(s.mongo.mode, mongo_sink_config{}.mode);
    }
  }
  EXPECT_EQ(schema::default_string("spool", "fsync"), "interval");
  EXPECT_EQ(c.spool.fsync, fsync_policy::interval);
}

TEST(ConfigSchema, NumericDefaultsAreTheTablesAndInsideTheirRanges) {
  // The table's text, read at run time, against what the structs were compiled with.
  const auto number = [](std::string_view id, std::string_view key) {
    for (const section_doc& s : config_sections())
      if (s.id == id)
        for (const option_doc& o : s.options)
          if (o.key == key) return schema::default_number(o);
    return std::optional<std::uint64_t>();
  };
  const pipeline_config c;
  EXPECT_EQ(number("pipeline", "ring_capacity"), c.ring_capacity);
  EXPECT_EQ(number("pipeline", "batch_records"), c.batch_records);
  EXPECT_EQ(number("pipeline", "drain_timeout"), c.drain_timeout_ms);
  EXPECT_EQ(number("spool", "segment_bytes"), c.spool.segment_bytes);
  EXPECT_EQ(number("spool", "fsync_interval"), c.spool.fsync_interval_ms);
  EXPECT_EQ(number("kafka", "max_in_flight"), std::uint64_t(kafka_sink_config{}.max_in_flight));
  EXPECT_EQ(number("source", "interval"), http_poll_spec{}.interval_ms);
  for (const section_doc& s : config_sections())
    for (const option_doc& o : s.options) {
      const auto d = schema::default_number(o);
      if (!d) continue;
      const auto r = schema::range_of(o);
      ASSERT_TRUE(r.has_value()) << s.path << "." << o.key;
      EXPECT_LE(r->lo, *d) << s.path << "." << o.key;
      EXPECT_LE(*d, r->hi) << s.path << "." << o.key;
    }
}

}  // namespace
}  // namespace edgepipe
