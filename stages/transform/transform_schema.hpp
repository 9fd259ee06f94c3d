// The output schema of a source's transform, derived from its compiled program: each field's
// name, its JSON type after casts/digests/templates/constants, nullability, and which field is
// the record key and the event time; rendered as JSON Schema, a Spark DDL column list, or Avro.
// Runs on: the main thread (the `schema` command, tests); pure functions, no shared state.
#pragma once

#include <string>
#include <vector>

#include "stages/transform/transform_program.hpp"

namespace edgepipe {

/// `any`: a value kept as the input had it (cast "keep" on a pointer): any JSON value.
enum class schema_type { any, string, number, integer, boolean };

struct schema_field {
  std::string name;
  schema_type type = schema_type::any;
  bool nullable = true;       // false when required, or always filled (template, default...)
  bool key = false;           // the field reads the source's key pointer
  bool event_time = false;    // the field reads the source's event_time pointer
  bool epoch_millis = false;  // cast "timestamp": Unix milliseconds
  std::string origin;         // "/pointer", "template ...", "constant"
};

struct record_schema {
  std::string source;
  std::vector<schema_field> fields;
  std::string key_pointer;         // "" = no key
  std::string event_time_pointer;  // "" = receive time
};

/// The schema of what `prog` writes (`prog` compiled from `spec`).
record_schema derive_schema(const source_spec& spec, const transform_program& prog);

/// JSON Schema (draft 2020-12) of one record; `additionalProperties` false, every field in
/// `required` (edgepipe always writes every field; a nullable one as null).
std::string to_json_schema(const record_schema& s);
/// Spark DDL column list for from_json: `id STRING NOT NULL, price DOUBLE, ...`. An event time
/// written as ISO-8601 text is TIMESTAMP; numeric event times stay BIGINT/DOUBLE (their unit,
/// seconds or milliseconds, is a value-level rule, see docs/schemas.md).
std::string to_spark_ddl(const record_schema& s);
/// Avro record schema (JSON); nullable fields are ["null", T] unions with default null.
std::string to_avro_schema(const record_schema& s);

}  // namespace edgepipe
