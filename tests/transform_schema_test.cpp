// The schema derived from a compiled transform (stages/transform/transform_schema): types after
// casts, digests, templates and constants; nullability; key and event time; and the three
// renderings for the embedded default config's sources.
#include "stages/transform/transform_schema.hpp"

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"
#include "config/pipeline_config.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/transform/transform_program.hpp"

namespace edgepipe {
namespace {

record_schema default_schema(const std::string& source) {
  pipeline_config config;
  const status st = load_default_config(pipeline_stage_checks(), config);
  EXPECT_TRUE(st) << st.message();
  for (const source_spec& s : config.sources) {
    if (s.name != source) continue;
    transform_program prog;
    const status c = transform_program::compile(s, prog);
    EXPECT_TRUE(c) << c.message();
    return derive_schema(s, prog);
  }
  ADD_FAILURE() << "no source " << source;
  return {};
}

record_schema schema_of(const source_spec& spec) {
  transform_program prog;
  const status c = transform_program::compile(spec, prog);
  EXPECT_TRUE(c) << c.message();
  return derive_schema(spec, prog);
}

field_spec from(std::string name, std::string pointer, value_cast cast = value_cast::keep) {
  field_spec f;
  f.name = std::move(name);
  f.from = std::move(pointer);
  f.cast = cast;
  return f;
}

TEST(TransformSchema, CoingeckoSparkDdlHasCastTypesKeyAndEventTime) {
  EXPECT_EQ(to_spark_ddl(default_schema("coingecko")),
            "id STRING NOT NULL, symbol STRING, name STRING, current_price DOUBLE, "
            "market_cap DOUBLE, market_cap_rank BIGINT, total_volume DOUBLE, high_24h DOUBLE, "
            "low_24h DOUBLE, price_change_percentage_24h DOUBLE, circulating_supply DOUBLE, "
            "last_updated TIMESTAMP\n");
  const record_schema s = default_schema("coingecko");
  ASSERT_EQ(s.fields.size(), 12u);
  EXPECT_TRUE(s.fields[0].key);
  EXPECT_FALSE(s.fields[1].key);
  EXPECT_TRUE(s.fields[11].event_time);
  EXPECT_EQ(s.key_pointer, "/id");
}

TEST(TransformSchema, IssRequiredFieldsAreNotNullAndNumericEventTimeStaysBigint) {
  EXPECT_EQ(to_spark_ddl(default_schema("iss")),
            "timestamp BIGINT NOT NULL, latitude DOUBLE NOT NULL, longitude DOUBLE NOT NULL\n");
}

TEST(TransformSchema, RandomuserTemplatesAreNonNullStringsAndDigestsStrings) {
  const record_schema s = default_schema("randomuser");
  ASSERT_EQ(s.fields.size(), 10u);
  EXPECT_EQ(s.fields[1].name, "name");
  EXPECT_EQ(s.fields[1].type, schema_type::string);
  EXPECT_FALSE(s.fields[1].nullable);
  EXPECT_EQ(s.fields[6].name, "zip");  // md5 of a number or a string
  EXPECT_EQ(s.fields[6].type, schema_type::string);
  EXPECT_TRUE(s.fields[6].nullable);
  EXPECT_TRUE(s.fields[0].key);
}

TEST(TransformSchema, JsonSchemaForIss) {
  EXPECT_EQ(to_json_schema(default_schema("iss")),
            "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":"
            "\"edgepipe.iss\",\"type\":\"object\",\"properties\":{\"timestamp\":{\"type\":"
            "\"integer\",\"x-edgepipe-event-time\":true},\"latitude\":{\"type\":\"number\"},"
            "\"longitude\":{\"type\":\"number\"}},\"required\":[\"timestamp\",\"latitude\","
            "\"longitude\"],\"additionalProperties\":false,\"x-edgepipe-event-time-pointer\":"
            "\"/timestamp\"}\n");
}

TEST(TransformSchema, KeepCastConstantsDefaultsAndTimestampCast) {
  source_spec spec;
  spec.name = "t-1";
  spec.key_pointer = "/k";
  field_spec raw = from("raw", "/obj");  // keep: any JSON value
  field_spec flag = from("flag", "/f", value_cast::bool_);
  field_spec when = from("when", "/w", value_cast::timestamp);
  field_spec dflt = from("n", "/n", value_cast::int_);
  dflt.default_value = literal_value{literal_value::kind::number, "0"};
  field_spec konst;
  konst.name = "version";
  konst.constant = literal_value{literal_value::kind::number, "2.5"};
  field_spec odd = from("a b", "/k", value_cast::string);
  spec.fields = {raw, flag, when, dflt, konst, odd};
  const record_schema s = schema_of(spec);
  ASSERT_EQ(s.fields.size(), 6u);
  EXPECT_EQ(s.fields[0].type, schema_type::any);
  EXPECT_TRUE(s.fields[0].nullable);
  EXPECT_EQ(s.fields[1].type, schema_type::boolean);
  EXPECT_EQ(s.fields[2].type, schema_type::integer);
  EXPECT_TRUE(s.fields[2].epoch_millis);
  EXPECT_EQ(s.fields[3].type, schema_type::integer);
  EXPECT_FALSE(s.fields[3].nullable);  // a non-null default fills it
  EXPECT_EQ(s.fields[4].type, schema_type::number);
  EXPECT_FALSE(s.fields[4].nullable);
  EXPECT_TRUE(s.fields[5].key);
  EXPECT_EQ(to_spark_ddl(s),
            "raw STRING, flag BOOLEAN, when BIGINT, n BIGINT NOT NULL, version DOUBLE NOT NULL, "
            "`a b` STRING\n");
  const std::string avro = to_avro_schema(s);
  EXPECT_NE(avro.find("\"name\":\"t_1\""), std::string::npos) << avro;
  EXPECT_NE(avro.find("{\"name\":\"a_b\",\"type\":[\"null\",\"string\"],\"default\":null,"
                      "\"aliases\":[\"a b\"]"),
            std::string::npos)
      << avro;
  EXPECT_NE(avro.find("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}"),
            std::string::npos)
      << avro;
  EXPECT_NE(avro.find("{\"name\":\"n\",\"type\":\"long\","), std::string::npos) << avro;
  const std::string js = to_json_schema(s);
  EXPECT_NE(js.find("\"raw\":{}"), std::string::npos) << js;
  EXPECT_NE(js.find("\"flag\":{\"type\":[\"boolean\",\"null\"]}"), std::string::npos) << js;
  EXPECT_NE(js.find("\"a b\":{\"type\":[\"string\",\"null\"],\"x-edgepipe-key\":true}"),
            std::string::npos)
      << js;
}

}  // namespace
}  // namespace edgepipe
