// Field order and nullability follow debezium_envelope.cpp's append_value: change the two
// together (tests/envelope_schema_test.cpp checks an encoded event against this tree).
#include "stages/sources/postgres_cdc/envelope_schema.hpp"

#include <utility>

namespace edgepipe::pgcdc {
namespace {

schema_node scalar(std::string name, value_type type, bool nullable) {
  schema_node n;
  n.name = std::move(name);
  n.type = type;
  n.nullable = nullable;
  return n;
}

schema_node record(std::string name, std::string record_name, bool nullable) {
  schema_node n;
  n.name = std::move(name);
  n.record = true;
  n.record_name = std::move(record_name);
  n.nullable = nullable;
  return n;
}

schema_node column_node(const table_column& c, decimal_handling decimals) {
  const value_schema v = value_schema_of(c.type_oid, c.type_modifier, decimals);
  schema_node n = scalar(c.name, v.type, !c.not_null);
  if (v.type == value_type::variable_decimal) {
    n.record = true;
    n.record_name = "VariableScaleDecimal_" + c.name;
    n.fields.push_back(scalar("scale", value_type::int32, false));
    n.fields.push_back(scalar("value", value_type::string, false));
  } else if (v.type == value_type::array) {
    n.items.push_back(scalar("", v.element, true));
  }
  return n;
}

std::string avro_namespace(const table_columns& t, const std::string& topic_prefix) {
  return topic_prefix + "." + t.schema + "." + t.table;
}

schema_node source_block() {
  schema_node s = record("source", "Source", false);
  s.fields = {
      scalar("version", value_type::string, false),  scalar("connector", value_type::string, false),
      scalar("name", value_type::string, false),     scalar("ts_ms", value_type::int64, false),
      scalar("snapshot", value_type::string, false), scalar("db", value_type::string, false),
      scalar("sequence", value_type::string, false), scalar("ts_us", value_type::int64, false),
      scalar("ts_ns", value_type::int64, false),     scalar("schema", value_type::string, false),
      scalar("table", value_type::string, false),    scalar("txId", value_type::int64, true),
      scalar("lsn", value_type::int64, false),       scalar("xmin", value_type::int64, true),
      scalar("origin", value_type::string, true),    scalar("origin_lsn", value_type::int64, true),
  };
  return s;
}

// Debezium's transaction block (edgepipe writes null: transaction metadata is not emitted).
schema_node transaction_block() {
  schema_node t = record("transaction", "block", true);
  t.fields = {
      scalar("id", value_type::string, false),
      scalar("total_order", value_type::int64, false),
      scalar("data_collection_order", value_type::int64, false),
  };
  return t;
}

}  // namespace

event_schema envelope_value_schema(const table_columns& t, const std::string& topic_prefix,
                                   decimal_handling decimals) {
  schema_node after = record("after", "Value", true);
  after.fields.reserve(t.columns.size());
  for (const table_column& c : t.columns) after.fields.push_back(column_node(c, decimals));
  // `before` of a delete or update under REPLICA IDENTITY DEFAULT / USING INDEX carries only the
  // identity's columns, the others null, whatever their NOT NULL: every column is nullable there.
  schema_node before = after;
  before.name = "before";
  before.record_name = "Before";
  for (schema_node& f : before.fields) f.nullable = true;

  event_schema out;
  out.avro_namespace = avro_namespace(t, topic_prefix);
  out.root = record("", "Envelope", false);
  schema_node op = scalar("op", value_type::string, false);
  op.symbols = {"c", "u", "d", "r", "t"};
  out.root.fields = {
      std::move(before),
      std::move(after),
      source_block(),
      transaction_block(),
      std::move(op),
      scalar("ts_ms", value_type::int64, false),
      scalar("ts_us", value_type::int64, false),
      scalar("ts_ns", value_type::int64, false),
  };
  return out;
}

event_schema envelope_key_schema(const table_columns& t, const std::string& topic_prefix,
                                 decimal_handling decimals) {
  event_schema out;
  out.avro_namespace = avro_namespace(t, topic_prefix);
  out.root = record("", "Key", false);
  for (const table_column& c : t.columns) {
    if (c.primary_key) out.root.fields.push_back(column_node(c, decimals));
  }
  return out;
}

}  // namespace edgepipe::pgcdc
