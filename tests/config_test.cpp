#include "config/config_loader.hpp"
#include "stages/pipeline/stage_checks.hpp"

#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::kMinimal;
using testing::load_error;

constexpr const char* kCdc = R"(
[spool]
dir = "sp"
[sinks.out]
type = "file"
path = "out.jsonl"
[sources.pg]
type = "postgres_cdc"
conninfo = "host=127.0.0.1 dbname=edgepipe user=edgepipe"
)";

TEST(Config, PostgresCdcSourceGetsDefaultsAndNeedsNoFields) {
  pipeline_config c;
  ASSERT_TRUE(load_config_text(kCdc, "edge.toml", pipeline_stage_checks(), c).is_ok());
  ASSERT_TRUE(validate_config(c, pipeline_stage_checks()).is_ok());
  ASSERT_EQ(c.sources.size(), 1u);
  ASSERT_TRUE(c.sources[0].cdc.has_value());
  const postgres_cdc_spec& p = *c.sources[0].cdc;
  EXPECT_EQ(p.publication, "edgepipe_cdc");
  EXPECT_EQ(p.slot, "edgepipe");
  EXPECT_EQ(p.topic_prefix, "edgepipe");
  EXPECT_EQ(p.snapshot, "initial");
  EXPECT_EQ(p.decimal_handling, "string");
  EXPECT_TRUE(p.tombstones);
  EXPECT_EQ(p.status_interval_ms, 10'000u);
  EXPECT_TRUE(p.tables.empty());
}

TEST(Config, PostgresCdcSettingsAreCheckedAndErrorsNameTheKey) {
  const std::string base = kCdc;
  EXPECT_NE(load_error(base + "slot = \"Bad-Slot\"\n").find("sources.pg.slot"), std::string::npos);
  EXPECT_NE(load_error(base + "snapshot = \"sometimes\"\n").find("sources.pg.snapshot"),
            std::string::npos);
  EXPECT_NE(load_error(base + "decimal_handling = \"float\"\n").find("decimal_handling"),
            std::string::npos);
  EXPECT_NE(load_error(base + "tables = [\"nodot\"]\n").find("sources.pg.tables[0]"),
            std::string::npos);
  EXPECT_NE(load_error(base + "topic_prefix = \"a b\"\n").find("topic_prefix"), std::string::npos);
  EXPECT_NE(load_error(base + "url = \"http://x/\"\n").find("sources.pg.url"), std::string::npos);
  // A password is never written in the config, and an unset variable is named, not the value.
  EXPECT_NE(load_error(base + "password = \"hunter2\"\n").find("sources.pg.password"),
            std::string::npos);
  const std::string unset = load_error(base + "password = \"env:EDGEPIPE_TEST_UNSET_PW\"\n");
  EXPECT_NE(unset.find("EDGEPIPE_TEST_UNSET_PW is not set"), std::string::npos) << unset;
  EXPECT_EQ(load_error(base + "password = \"env:EDGEPIPE_TEST_UNSET_PW:-edgepipe\"\n"), "");
  EXPECT_NE(load_error(R"([spool]
dir = "sp"
[sinks.out]
type = "file"
path = "out.jsonl"
[sources.pg]
type = "postgres_cdc"
conninfo = "host=x password=secret"
)")
                .find("holds a password"),
            std::string::npos);
  // Without a spool nothing would say when a change is durable: refused before any thread.
  const std::string no_spool = load_error(std::string(kCdc).replace(0, 19, ""));
  EXPECT_NE(no_spool.find("needs a spool"), std::string::npos) << no_spool;
  EXPECT_NE(load_error(base + "[sources.pg2]\ntype = \"postgres_cdc\"\nconninfo = "
                              "\"host=127.0.0.1 dbname=edgepipe user=edgepipe\"\n")
                .find("same replication slot"),
            std::string::npos);
}

TEST(Config, EmbeddedDefaultLoadsAndValidates) {
  pipeline_config c;
  ASSERT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  ASSERT_TRUE(validate_config(c, pipeline_stage_checks()).is_ok());
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].type, "file");
}

// Found by tests/fuzz/fuzz_config_loader: "5.5e61h" was cast to an integer far out of range
// (undefined behaviour; in practice a garbage duration).
TEST(Config, HugeDurationIsRejectedNotWrapped) {
  EXPECT_FALSE(parse_duration_ms("5.5e61h").has_value());
  EXPECT_FALSE(parse_duration_ms("1e30s").has_value());
  EXPECT_FALSE(parse_duration_ms("18446744073710").has_value());  // ms whose ns do not fit
  // The documented maximum (366 days) is accepted, one millisecond more is not.
  EXPECT_EQ(parse_duration_ms(std::to_string(kMaxDurationMs)), kMaxDurationMs);
  EXPECT_FALSE(parse_duration_ms(std::to_string(kMaxDurationMs + 1)).has_value());
  EXPECT_EQ(parse_duration_ms("2m"), 120000u);
  pipeline_config c;
  const status s =
      load_config_text("include = \"embedded:default\"\n[spool]\nfsync_interval = \"1e30s\"\n",
                       "t.toml", pipeline_stage_checks(), c);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("fsync_interval"), std::string::npos) << s.message();
}

// A cross-check between two keys can fail on the one the file leaves unset (its default): the
// error names that key at its table instead of dereferencing a missing node (found by
// fuzz_config_loader: `[spool] retry_backoff = "1h"` crashed `edgepipe check`).
TEST(Config, ACrossCheckFailingOnAnUnsetKeyNamesItsDefault) {
  const std::string backoff =
      load_error(std::string(kMinimal) + "[spool]\nretry_backoff = \"1h\"\n");
  EXPECT_NE(backoff.find("edge.toml"), std::string::npos) << backoff;
  EXPECT_NE(backoff.find("'spool.retry_backoff_max'"), std::string::npos) << backoff;
  EXPECT_NE(backoff.find("(not set, so its default)"), std::string::npos) << backoff;
  EXPECT_NE(backoff.find("must not be shorter than retry_backoff"), std::string::npos) << backoff;
  // Set, the key is named with its line and value as before.
  const std::string set = load_error(
      std::string(kMinimal) + "[spool]\nretry_backoff = \"1h\"\nretry_backoff_max = \"1m\"\n");
  EXPECT_NE(set.find("'spool.retry_backoff_max' = '1m'"), std::string::npos) << set;
  EXPECT_EQ(set.find("not set"), std::string::npos) << set;
  // segment_bytes alone above a quarter of the default max_bytes.
  const std::string segment =
      load_error(std::string(kMinimal) + "[spool]\nsegment_bytes = 1073741824\n");
  EXPECT_NE(segment.find("'spool.max_bytes'"), std::string::npos) << segment;
  EXPECT_NE(segment.find("must be at least 4 x segment_bytes"), std::string::npos) << segment;
}

// A directory where a file is expected opens as an ifstream and reads as nothing: the config
// file, an include and a file: secret each say it is a directory instead of loading "" (which
// read as "no [sources.<name>] defined" or an empty secret).
TEST(Config, ADirectoryWhereAFileIsExpectedIsNamedAsOne) {
  testing::temp_dir dir;
  const std::string d = dir.path().string();
  pipeline_config c;
  const status file = load_config_file(d, pipeline_stage_checks(), c);
  ASSERT_FALSE(file.is_ok());
  EXPECT_NE(file.message().find("cannot read config file " + d + ": it is a directory"),
            std::string::npos)
      << file.message();
  testing::write_file(dir / "edge.toml", "include = \"" + d + "\"\n");
  const status include = load_config_file(dir / "edge.toml", pipeline_stage_checks(), c);
  ASSERT_FALSE(include.is_ok());
  EXPECT_NE(include.message().find("key 'include'"), std::string::npos) << include.message();
  EXPECT_NE(include.message().find("it is a directory"), std::string::npos) << include.message();
  const std::string secret =
      load_error(std::string(kMinimal) + "[http]\nbearer_token = \"file:" + d + "\"\n");
  EXPECT_NE(secret.find("'http.bearer_token'"), std::string::npos) << secret;
  EXPECT_NE(secret.find("cannot read file " + d + ": it is a directory"), std::string::npos)
      << secret;
}

// The topics a kafka sink will write are valid Kafka topic names, checked before any thread
// starts (the broker refused them only once the sink ran; a daemon whose brokers were down at
// start learned it later still).
TEST(Config, KafkaTopicNamesFollowKafkasRule) {
  const auto kafka = [](const std::string& keys) {
    return load_error(std::string(kMinimal) + "[sinks.k]\ntype = \"kafka\"\n" + keys);
  };
  EXPECT_NE(kafka("topic = \"bad topic\"\n")
                .find("edge.toml: sinks.k.topic = \"bad topic\": the topic name holds a "
                      "character Kafka does not allow (only A-Z a-z 0-9 . _ -)"),
            std::string::npos);
  EXPECT_NE(kafka("topic = \"..\"\n").find("cannot be \".\" or \"..\""), std::string::npos);
  EXPECT_NE(kafka("topic = \"" + std::string(250, 'a') + "\"\n")
                .find("is 250 characters long, over Kafka's 249"),
            std::string::npos);
  EXPECT_NE(kafka("topic_prefix = \"bad/\"\n")
                .find("sinks.k.topic_prefix = \"bad/\": the topic of sources.iss (\"bad/iss\")"),
            std::string::npos);
  EXPECT_NE(kafka("topic_prefix = \"" + std::string(247, 'p') + "\"\n").find("is 250 characters"),
            std::string::npos);
  EXPECT_NE(kafka("exactly_once = true\nstate_topic = \"a b\"\n").find("sinks.k.state_topic"),
            std::string::npos);
  // Allowed: the defaults, a 249-character topic, a prefix that leaves room for the name.
  EXPECT_EQ(kafka(""), "");
  EXPECT_EQ(kafka("topic = \"" + std::string(249, 'a') + "\"\n"), "");
  EXPECT_EQ(kafka("topic_prefix = \"" + std::string(246, 'p') + "\"\n"), "");
}

TEST(Config, MinimalConfigGetsDefaults) {
  pipeline_config c;
  ASSERT_TRUE(load_config_text(kMinimal, "edge.toml", pipeline_stage_checks(), c).is_ok());
  EXPECT_EQ(c.batch_records, 1024u);
  EXPECT_EQ(c.ring_capacity, 8u);
  EXPECT_FALSE(c.transform_cpu.has_value());
  EXPECT_EQ(c.dead_letter.path, "edgepipe-out/dead-letter.jsonl");
}

TEST(Config, UnknownKeyNamesFileLineKeyAndValue) {
  const std::string e = load_error(std::string(kMinimal) + "[pipeline]\nbatch_recrods = 10\n");
  EXPECT_NE(e.find("edge.toml:"), std::string::npos) << e;
  EXPECT_NE(e.find("pipeline.batch_recrods"), std::string::npos) << e;
  EXPECT_NE(e.find("10"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("batch_records"), std::string::npos) << "lists the allowed keys: " << e;
}

TEST(Config, WrongTypeIsRejected) {
  const std::string e =
      load_error(std::string(kMinimal) + "[pipeline]\nbatch_records = \"many\"\n");
  EXPECT_NE(e.find("pipeline.batch_records"), std::string::npos) << e;
  EXPECT_NE(e.find("many"), std::string::npos) << e;
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
}

TEST(Config, ImpossibleValuesAreRejected) {
  EXPECT_NE(load_error(std::string(kMinimal) + "[pipeline]\nbatch_records = 0\n").find("between 1"),
            std::string::npos);
  EXPECT_NE(load_error(std::string(kMinimal) + "[pipeline]\nring_capacity = -4\n")
                .find("pipeline.ring_capacity"),
            std::string::npos);
  EXPECT_NE(load_error(std::string(kMinimal) + "[pipeline]\ntransform_cpu = \"fast\"\n")
                .find("CPU number"),
            std::string::npos);
}

TEST(Config, BadJsonPointerNamesTheField) {
  const std::string e = load_error(R"(
[sinks.out]
type = "file"
path = "o.jsonl"
[sources.iss]
fields = [ { name = "t", from = "timestamp" } ]
)");
  EXPECT_NE(e.find("sources.iss.fields[0].from"), std::string::npos) << e;
  EXPECT_NE(e.find("timestamp"), std::string::npos) << e;
  EXPECT_NE(e.find("JSON pointer"), std::string::npos) << e;
  const std::string e2 = load_error(R"(
[sinks.out]
type = "file"
path = "o.jsonl"
[sources.iss]
key = "/a~2b"
fields = [ { name = "t", from = "/t" } ]
)");
  EXPECT_NE(e2.find("sources.iss.key"), std::string::npos) << e2;
}

TEST(Config, FieldNeedsExactlyOneSourceAndKnownType) {
  EXPECT_NE(load_error(R"(
[sinks.out]
type = "file"
path = "o.jsonl"
[sources.s]
fields = [ { name = "t", from = "/t", const = 1 } ]
)")
                .find("exactly one of"),
            std::string::npos);
  const std::string e = load_error(R"(
[sinks.out]
type = "file"
path = "o.jsonl"
[sources.s]
fields = [ { name = "t", from = "/t", type = "dbl" } ]
)");
  EXPECT_NE(e.find("sources.s.fields[0].type"), std::string::npos) << e;
  EXPECT_NE(e.find("dbl"), std::string::npos) << e;
  EXPECT_NE(load_error(R"(
[sinks.out]
type = "file"
path = "o.jsonl"
[sources.s]
fields = [ { name = "t", template = "{/a" } ]
)")
                .find("unclosed"),
            std::string::npos);
}

TEST(Config, KafkaMaxInFlightHasADefaultAndARange) {
  const std::string sources = "[sources.s]\nfields = [ { name = \"t\", from = \"/t\" } ]\n";
  pipeline_config c;
  ASSERT_TRUE(load_config_text("[sinks.k]\ntype = \"kafka\"\n" + sources, "edge.toml",
                               pipeline_stage_checks(), c)
                  .is_ok());
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].kafka.max_in_flight, 8192);
  pipeline_config d;
  ASSERT_TRUE(load_config_text("[sinks.k]\ntype = \"kafka\"\nmax_in_flight = 100000\n" + sources,
                               "edge.toml", pipeline_stage_checks(), d)
                  .is_ok());
  EXPECT_EQ(d.sinks[0].kafka.max_in_flight, 100000);
  EXPECT_NE(load_error("[sinks.k]\ntype = \"kafka\"\nmax_in_flight = 0\n" + sources)
                .find("sinks.k.max_in_flight"),
            std::string::npos);
}

TEST(Config, SinkProblemsAreNamed) {
  EXPECT_NE(load_error("[sinks.k]\ntype = \"kafkaa\"\n").find("sinks.k.type"), std::string::npos);
  EXPECT_NE(load_error("[sinks.k]\npath = \"x\"\n").find("sinks.k.type"), std::string::npos);
  EXPECT_NE(load_error(R"(
[sources.s]
fields = [ { name = "t", from = "/t" } ]
)")
                .find("no [sinks"),
            std::string::npos);
  EXPECT_NE(load_error(std::string(kMinimal) + "[sinks.b]\ntype = \"file\"\npath = \"out.jsonl\"\n")
                .find("same file"),
            std::string::npos);
}

TEST(Config, TomlSyntaxErrorHasLineAndColumn) {
  const std::string e = load_error("[pipeline\nbatch_records = 1\n");
  EXPECT_NE(e.find("edge.toml:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("syntax"), std::string::npos) << e;
}

TEST(Config, ParseSpeed) {
  EXPECT_EQ(parse_speed("max"), 0.0);
  EXPECT_EQ(parse_speed("1x"), 1.0);
  EXPECT_EQ(parse_speed("2.5x"), 2.5);
  EXPECT_FALSE(parse_speed("fast"));
  EXPECT_FALSE(parse_speed("0x"));
  EXPECT_FALSE(parse_speed("-1x"));
  EXPECT_FALSE(parse_speed("x"));
}

TEST(Config, HttpSourceSettingsAreValidated) {
  const std::string base =
      "[sinks.out]\ntype = \"file\"\npath = \"o.jsonl\"\n[sources.s]\n"
      "fields = [ { name = \"t\", from = \"/t\" } ]\n";
  EXPECT_EQ(load_error(base + "url = \"https://example.org/x\"\nschedule = \"*/5 * * * *\"\n"), "");
  std::string e = load_error(base + "url = \"https://example.org/x\"\nschedule = \"*/5 * *\"\n");
  EXPECT_NE(e.find("sources.s.schedule"), std::string::npos) << e;
  EXPECT_NE(e.find("5 fields"), std::string::npos) << e;
  e = load_error(base + "url = \"ftp://example.org/x\"\n");
  EXPECT_NE(e.find("sources.s.url"), std::string::npos) << e;
  e = load_error(base + "url = \"http://x\"\ninterval = \"soon\"\n");
  EXPECT_NE(e.find("sources.s.interval"), std::string::npos) << e;
  e = load_error(base + "interval = \"5s\"\n");
  EXPECT_NE(e.find("needs 'url'"), std::string::npos) << e;
  e = load_error(base +
                 "url = \"http://x\"\nheaders = { key = \"env:EDGEPIPE_SURELY_UNSET_VAR\" }\n");
  EXPECT_NE(e.find("EDGEPIPE_SURELY_UNSET_VAR is not set"), std::string::npos) << e;
}

}  // namespace
}  // namespace edgepipe
