// The schema of CDC events built from a table's columns (envelope_schema.hpp) and rendered as
// JSON Schema / Spark DDL / Avro: each type kind, nullability, decimal_handling variants, the
// key; and an event the envelope really writes, checked field by field against the tree.
#include "stages/sources/postgres_cdc/envelope_schema.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "stages/sources/postgres_cdc/debezium_envelope.hpp"
#include "stages/sources/postgres_cdc/envelope_schema_text.hpp"

namespace edgepipe::pgcdc {
namespace {

constexpr std::int32_t numeric_typmod(int precision, int scale) {
  return ((precision << 16) | scale) + 4;
}

// One column of each value type the mapping has, and an unknown OID (interval, 1186).
table_columns varied_table() {
  table_columns t;
  t.schema = "public";
  t.table = "orders";
  t.columns = {
      {"id", 20, -1, true, true},
      {"qty", 23, -1, false, false},
      {"flag", 16, -1, true, false},
      {"ratio", 701, -1, false, false},
      {"price", 1700, numeric_typmod(10, 2), false, false},
      {"amount", 1700, -1, false, false},
      {"name", 25, -1, true, false},
      {"uid", 2950, -1, false, false},
      {"doc", 3802, -1, false, false},
      {"day", 1082, -1, false, false},
      {"at", 1114, -1, false, false},
      {"at_tz", 1184, -1, false, false},
      {"tod", 1083, -1, false, false},
      {"raw", 17, -1, false, false},
      {"tags", 1009, -1, false, false},
      {"nums", 1007, -1, false, false},
      {"span", 1186, -1, false, false},
  };
  return t;
}

const schema_node& field(const schema_node& record, const std::string& name) {
  for (const schema_node& f : record.fields) {
    if (f.name == name) return f;
  }
  ADD_FAILURE() << "no field " << name;
  return record;
}

TEST(EnvelopeSchema, ValueTypesFollowTheTypeMapping) {
  const event_schema s =
      envelope_value_schema(varied_table(), "edgepipe", decimal_handling::string);
  const schema_node& after = field(s.root, "after");
  ASSERT_TRUE(after.record);
  ASSERT_EQ(after.fields.size(), 17u);
  EXPECT_EQ(field(after, "id").type, value_type::int64);
  EXPECT_EQ(field(after, "qty").type, value_type::int32);
  EXPECT_EQ(field(after, "flag").type, value_type::boolean);
  EXPECT_EQ(field(after, "ratio").type, value_type::float64);
  EXPECT_EQ(field(after, "price").type, value_type::string);
  EXPECT_EQ(field(after, "name").type, value_type::string);
  EXPECT_EQ(field(after, "uid").type, value_type::string);
  EXPECT_EQ(field(after, "doc").type, value_type::string);
  EXPECT_EQ(field(after, "day").type, value_type::int32);
  EXPECT_EQ(field(after, "at").type, value_type::int64);
  EXPECT_EQ(field(after, "at_tz").type, value_type::string);
  EXPECT_EQ(field(after, "tod").type, value_type::int64);
  EXPECT_EQ(field(after, "raw").type, value_type::string);
  EXPECT_EQ(field(after, "span").type, value_type::string);  // unknown OID: its text
  const schema_node& tags = field(after, "tags");
  ASSERT_EQ(tags.type, value_type::array);
  ASSERT_EQ(tags.items.size(), 1u);
  EXPECT_EQ(tags.items[0].type, value_type::string);
  EXPECT_EQ(field(after, "nums").items.at(0).type, value_type::int32);
}

TEST(EnvelopeSchema, NullabilityIsNotNullAndRowsAreNullable) {
  const event_schema s =
      envelope_value_schema(varied_table(), "edgepipe", decimal_handling::string);
  EXPECT_TRUE(field(s.root, "before").nullable);
  EXPECT_TRUE(field(s.root, "after").nullable);
  EXPECT_FALSE(field(s.root, "source").nullable);
  EXPECT_FALSE(field(s.root, "op").nullable);
  const schema_node& after = field(s.root, "after");
  EXPECT_FALSE(field(after, "id").nullable);
  EXPECT_FALSE(field(after, "name").nullable);
  EXPECT_TRUE(field(after, "qty").nullable);
  // A delete under REPLICA IDENTITY DEFAULT has only the key in `before`, the rest null.
  for (const schema_node& f : field(s.root, "before").fields) EXPECT_TRUE(f.nullable) << f.name;
  EXPECT_TRUE(field(field(s.root, "source"), "txId").nullable);
  EXPECT_FALSE(field(field(s.root, "source"), "lsn").nullable);
}

TEST(EnvelopeSchema, DecimalHandlingVariants) {
  const table_columns t = varied_table();
  const auto price = [&](decimal_handling d) {
    return field(field(envelope_value_schema(t, "p", d).root, "after"), "price");
  };
  const auto amount = [&](decimal_handling d) {
    return field(field(envelope_value_schema(t, "p", d).root, "after"), "amount");
  };
  EXPECT_EQ(price(decimal_handling::string).type, value_type::string);
  EXPECT_EQ(price(decimal_handling::double_).type, value_type::float64);
  EXPECT_EQ(price(decimal_handling::precise).type, value_type::string);  // base64, scale known
  EXPECT_EQ(amount(decimal_handling::string).type, value_type::string);
  EXPECT_EQ(amount(decimal_handling::double_).type, value_type::float64);
  const schema_node variable = amount(decimal_handling::precise);
  EXPECT_EQ(variable.type, value_type::variable_decimal);
  ASSERT_TRUE(variable.record);
  ASSERT_EQ(variable.fields.size(), 2u);
  EXPECT_EQ(variable.fields[0].name, "scale");
  EXPECT_EQ(variable.fields[1].name, "value");
}

TEST(EnvelopeSchema, EveryTypeOfTheMappingTableHasASchema) {
  // A new render kind without a schema falls through to string in value_schema_of: make the
  // table's own description agree with the schema type for the kinds we can check by name.
  for (const pg_type_entry& e : pg_type_table()) {
    const value_schema v = value_schema_of(e.oid, -1, decimal_handling::string);
    if (e.render == pg_render::array) {
      EXPECT_EQ(v.type, value_type::array) << e.name;
    } else if (e.json_form.starts_with("number")) {
      EXPECT_TRUE(v.type == value_type::int32 || v.type == value_type::int64 ||
                  v.type == value_type::float64)
          << e.name;
    } else if (e.json_form.starts_with("string")) {
      EXPECT_EQ(v.type, value_type::string) << e.name;
    }
  }
}

TEST(EnvelopeSchema, KeyIsThePrimaryKeyColumns) {
  const event_schema k = envelope_key_schema(varied_table(), "edgepipe", decimal_handling::string);
  ASSERT_EQ(k.root.fields.size(), 1u);
  EXPECT_EQ(k.root.fields[0].name, "id");
  EXPECT_FALSE(k.root.fields[0].nullable);
  EXPECT_EQ(to_spark_ddl(k), "id BIGINT NOT NULL\n");
}

TEST(EnvelopeSchemaText, JsonSchema) {
  table_columns t;
  t.schema = "public";
  t.table = "t";
  t.columns = {
      {"id", 23, -1, true, true}, {"r", 701, -1, false, false}, {"a", 1007, -1, false, false}};
  const std::string js = to_json_schema(envelope_value_schema(t, "ep", decimal_handling::string));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(js).get(doc), simdjson::SUCCESS) << js;
  EXPECT_NE(js.find("\"id\":{\"type\":\"integer\"}"), std::string::npos) << js;
  EXPECT_NE(js.find("\"r\":{\"anyOf\":[{\"type\":\"number\"},{\"enum\":[\"NaN\",\"Infinity\","
                    "\"-Infinity\"]},{\"type\":\"null\"}]}"),
            std::string::npos)
      << js;
  EXPECT_NE(js.find("\"a\":{\"type\":[\"array\",\"null\"],\"items\":{\"type\":[\"integer\","
                    "\"null\"]}}"),
            std::string::npos)
      << js;
  EXPECT_NE(js.find("\"before\":{\"type\":[\"object\",\"null\"]"), std::string::npos) << js;
  EXPECT_NE(js.find("\"op\":{\"type\":\"string\",\"enum\":[\"c\",\"u\",\"d\",\"r\",\"t\"]}"),
            std::string::npos)
      << js;
  EXPECT_NE(js.find("\"required\":[\"before\",\"after\",\"source\",\"transaction\",\"op\","
                    "\"ts_ms\",\"ts_us\",\"ts_ns\"]"),
            std::string::npos)
      << js;
}

TEST(EnvelopeSchemaText, SparkDdl) {
  table_columns t;
  t.schema = "public";
  t.table = "t";
  t.columns = {{"id", 20, -1, true, true},
               {"odd name", 25, -1, false, false},
               {"amount", 1700, -1, false, false}};
  const std::string ddl = to_spark_ddl(envelope_value_schema(t, "ep", decimal_handling::precise));
  EXPECT_EQ(ddl.substr(0, ddl.find(", source ")),
            "before STRUCT<id: BIGINT, `odd name`: STRING, amount: STRUCT<scale: INT NOT NULL, "
            "value: STRING NOT NULL>>, after STRUCT<id: BIGINT NOT NULL, `odd name`: STRING, "
            "amount: STRUCT<scale: INT NOT NULL, value: STRING NOT NULL>>");
  EXPECT_NE(ddl.find(", source STRUCT<version: STRING NOT NULL, connector: STRING NOT NULL"),
            std::string::npos)
      << ddl;
  EXPECT_NE(ddl.find("txId: BIGINT, lsn: BIGINT NOT NULL"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find(", op STRING NOT NULL, ts_ms BIGINT NOT NULL"), std::string::npos) << ddl;
  EXPECT_EQ(ddl.back(), '\n');
}

TEST(EnvelopeSchemaText, AvroNullableUnions) {
  table_columns t;
  t.schema = "public";
  t.table = "my-table";
  t.columns = {{"id", 23, -1, true, true}, {"d", 1700, numeric_typmod(8, 3), false, false}};
  const std::string avro =
      to_avro_schema(envelope_value_schema(t, "ep", decimal_handling::double_));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(avro).get(doc), simdjson::SUCCESS) << avro;
  EXPECT_EQ(avro.rfind("{\"type\":\"record\",\"namespace\":\"ep.public.my_table\",\"name\":"
                       "\"Envelope\",",
                       0),
            0u)
      << avro;
  EXPECT_NE(avro.find("{\"name\":\"after\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
                      "\"Value\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"d\","
                      "\"type\":[\"null\",\"double\"],\"default\":null}]}],\"default\":null}"),
            std::string::npos)
      << avro;
  EXPECT_NE(avro.find("{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
                      "\"Before\",\"fields\":[{\"name\":\"id\",\"type\":[\"null\",\"int\"],"
                      "\"default\":null},"),
            std::string::npos)
      << avro;
}

// ---- an encoded event against the tree ----

bool matches(const schema_node& n, simdjson::dom::element v, std::string& why,
             const std::string& path) {
  if (v.is_null()) {
    if (!n.nullable) why += path + " is null; ";
    return n.nullable;
  }
  if (n.record) {
    simdjson::dom::object o;
    if (v.get(o) != simdjson::SUCCESS) {
      why += path + " is not an object; ";
      return false;
    }
    if (o.size() != n.fields.size()) why += path + ": field count differs; ";
    bool ok = o.size() == n.fields.size();
    for (const schema_node& f : n.fields) {
      simdjson::dom::element fv;
      if (o[f.name].get(fv) != simdjson::SUCCESS) {
        why += path + "." + f.name + " missing; ";
        ok = false;
        continue;
      }
      ok = matches(f, fv, why, path + "." + f.name) && ok;
    }
    return ok;
  }
  bool ok = false;
  switch (n.type) {
    case value_type::boolean:
      ok = v.is_bool();
      break;
    case value_type::int32:
    case value_type::int64:
      ok = v.is_int64();
      break;
    case value_type::float64:
      ok = v.is_number() || v.is_string();
      break;
    case value_type::string:
    case value_type::variable_decimal:
      ok = v.is_string();
      break;
    case value_type::array: {
      simdjson::dom::array a;
      ok = v.get(a) == simdjson::SUCCESS;
      if (ok) {
        for (simdjson::dom::element e : a) ok = matches(n.items[0], e, why, path + "[]") && ok;
      }
      break;
    }
  }
  if (!ok) why += path + " has the wrong type; ";
  return ok;
}

TEST(EnvelopeSchema, AnEncodedSnapshotRowMatchesTheSchema) {
  const table_columns t = varied_table();
  relation rel;
  rel.oid = 16400;
  rel.schema = t.schema;
  rel.name = t.table;
  rel.columns.reserve(t.columns.size());
  for (const table_column& c : t.columns)
    rel.columns.push_back({c.name, c.type_oid, c.type_modifier, c.primary_key});
  const std::vector<std::string> texts = {"7",
                                          "42",
                                          "t",
                                          "0.25",
                                          "12.50",
                                          "3.14159",
                                          "widget",
                                          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                                          "{\"k\": 1}",
                                          "2026-01-02",
                                          "2026-01-02 03:04:05.123456",
                                          "2026-01-02 03:04:05.5+00",
                                          "03:04:05",
                                          "\\x0102ff",
                                          "{a,\"b c\",NULL}",
                                          "{1,2,NULL}",
                                          "1 day"};
  ASSERT_EQ(texts.size(), t.columns.size());
  std::vector<column_value> row;
  row.reserve(texts.size());
  for (const std::string& s : texts) row.push_back({value_kind::text, s});
  row[1] = {value_kind::null, {}};  // a nullable column's null

  for (const decimal_handling d :
       {decimal_handling::string, decimal_handling::double_, decimal_handling::precise}) {
    envelope_options o;
    o.topic_prefix = "edgepipe";
    o.database = "edgepipe";
    o.decimals = d;
    debezium_envelope env(o);
    byte_arena out;
    std::vector<cdc_event> events;
    change_position pos;
    pos.lsn = 0x1000;
    pos.snapshot = "last";
    ASSERT_TRUE(env.append_snapshot_row(rel, row, pos, out, events).is_ok());
    ASSERT_EQ(events.size(), 1u);
    const std::string value(out.data() + events[0].value_off, events[0].value_len);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(value).get(doc), simdjson::SUCCESS) << value;
    std::string why;
    EXPECT_TRUE(matches(envelope_value_schema(t, "edgepipe", d).root, doc, why, "value"))
        << why << "\n"
        << value;
    EXPECT_EQ(env.counters().fallback_values, 0u) << value;
    const std::string key(out.data() + events[0].key_off, events[0].key_len);
    ASSERT_EQ(parser.parse(key).get(doc), simdjson::SUCCESS) << key;
    why.clear();
    EXPECT_TRUE(matches(envelope_key_schema(t, "edgepipe", d).root, doc, why, "key")) << why;
  }
}

}  // namespace
}  // namespace edgepipe::pgcdc
