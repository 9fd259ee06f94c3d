// The schema of the Debezium events debezium_envelope.cpp writes for one table, built from the
// table's columns (pg_table_columns.hpp reads them from the catalog) and the value types of
// pg_type_mapping.hpp, as a small tree that envelope_schema_text.hpp renders as JSON Schema,
// Spark DDL or Avro. Pure; runs on: the main thread (the `schema` command, tests).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

namespace edgepipe::pgcdc {

struct table_column {
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
  bool not_null = false;     // attnotnull
  bool primary_key = false;  // part of the primary key
};

struct table_columns {
  std::string schema;
  std::string table;
  std::vector<table_column> columns;  // in attnum order, as pgoutput sends them
};

/// One node of an event's schema: a scalar, an array of `items[0]`, or a record of `fields`.
struct schema_node {
  std::string name;  // the field name (the root: unused)
  value_type type = value_type::string;
  bool nullable = false;
  bool record = false;               // an object of `fields`
  std::string record_name;           // Avro's name of a record ("Value", "Source"...)
  std::vector<schema_node> fields;   // records
  std::vector<schema_node> items;    // arrays: one element node
  std::vector<std::string> symbols;  // a string with a closed set of values ("op")
};

struct event_schema {
  std::string avro_namespace;  // "<topic_prefix>.<schema>.<table>", Debezium's naming
  schema_node root;            // a record
};

/// The value of every non-tombstone event: before, after (the row or null), source,
/// transaction (always null), op, ts_ms, ts_us, ts_ns.
event_schema envelope_value_schema(const table_columns& t, const std::string& topic_prefix,
                                   decimal_handling decimals);
/// The key: the primary key columns. Its root has no fields when the table has no primary key
/// (the events then have no key).
event_schema envelope_key_schema(const table_columns& t, const std::string& topic_prefix,
                                 decimal_handling decimals);

}  // namespace edgepipe::pgcdc
