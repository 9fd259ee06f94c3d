// `edgepipe schema --source <postgres_cdc source> --table schema.table [--key]`: connects with the
// source's settings, reads the table's columns and prints the schema of its Debezium event
// values (or keys). runs on: the main thread.
#pragma once

#include <string>

#include "config/source_spec.hpp"

namespace edgepipe {

/// Prints the schema in `format` (json-schema, spark, avro) and returns the exit code: 2 for a
/// malformed or missing table, 1 when PostgreSQL cannot be reached or queried. `where` names
/// the config file and source in messages ("config/cdc.toml: sources.pg").
int print_cdc_table_schema(const postgres_cdc_spec& cdc, const std::string& where,
                           const std::string& table, bool key, const std::string& format);

}  // namespace edgepipe
