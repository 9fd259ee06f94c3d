// Renders an event_schema (envelope_schema.hpp) as JSON Schema (draft 2020-12), a Spark DDL
// column list for from_json, or an Avro record schema with ["null", T] unions.
// Pure; runs on: the main thread (the `schema` command, tests).
#pragma once

#include <string>

#include "stages/sources/postgres_cdc/envelope_schema.hpp"

namespace edgepipe::pgcdc {

/// Every field `required` (the envelope always writes every field, a nullable one as null),
/// `additionalProperties` false. A float64 is a number or one of "NaN", "Infinity", "-Infinity".
std::string to_json_schema(const event_schema& s);
/// `before STRUCT<id: BIGINT NOT NULL, ...>, after STRUCT<...>, source STRUCT<...>, op STRING
/// NOT NULL, ...`; names that are not plain identifiers in backquotes.
std::string to_spark_ddl(const event_schema& s);
/// Nullable fields are ["null", T] with default null; a record used twice (before/after) is
/// defined once and named the second time.
std::string to_avro_schema(const event_schema& s);

}  // namespace edgepipe::pgcdc
