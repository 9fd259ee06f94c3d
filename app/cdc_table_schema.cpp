// The catalog read and the envelope schema builder glued to the command line; the password is
// passed to libpq apart from the conninfo and never printed.
#include "app/cdc_table_schema.hpp"

#include <cstdio>

#include "app/exit_codes.hpp"
#include "stages/sources/postgres_cdc/envelope_schema.hpp"
#include "stages/sources/postgres_cdc/envelope_schema_text.hpp"
#include "stages/sources/postgres_cdc/pg_table_columns.hpp"

namespace edgepipe {

int print_cdc_table_schema(const postgres_cdc_spec& cdc, const std::string& where,
                           const std::string& table, bool key, const std::string& format) {
  using namespace pgcdc;
  std::string schema_name;
  std::string table_name;
  if (!split_table_name(table, schema_name, table_name))
    return config_error("schema: " + where + ": --table '" + table +
                        "' is not schema.table or table");
  const std::string what = where + ": table " + schema_name + "." + table_name;
  pg_connection conn;
  if (status s = conn.open(cdc.conninfo, cdc.password, false, "edgepipe-schema"); !s)
    return runtime_error("schema: " + what + ": cannot connect to PostgreSQL: " + s.message());
  table_columns columns;
  bool found = false;
  if (status s = load_table_columns(conn, schema_name, table_name, columns, found); !s)
    return runtime_error("schema: " + what + ": reading the catalog failed: " + s.message());
  if (!found) return config_error("schema: " + what + ": no such table in the source's database");
  const decimal_handling decimals = decimal_handling_named(cdc.decimal_handling);
  const event_schema schema = key ? envelope_key_schema(columns, cdc.topic_prefix, decimals)
                                  : envelope_value_schema(columns, cdc.topic_prefix, decimals);
  if (key && schema.root.fields.empty())
    return config_error("schema: " + what +
                        ": has no primary key, so its events have no key (docs/cdc.md)");
  const std::string text = format == "spark"  ? to_spark_ddl(schema)
                           : format == "avro" ? to_avro_schema(schema)
                                              : to_json_schema(schema);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace edgepipe
