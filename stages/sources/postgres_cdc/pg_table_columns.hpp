// Reads one table's columns (name, type OID and modifier, NOT NULL, primary key membership)
// from the catalog over a normal SQL session, for `edgepipe schema --table`.
// runs on: the main thread.
#pragma once

#include <string>

#include "core/status.hpp"
#include "stages/sources/postgres_cdc/envelope_schema.hpp"
#include "stages/sources/postgres_cdc/pg_connection.hpp"

namespace edgepipe::pgcdc {

/// "schema.table" or "table" (schema public) -> the two parts; false when empty or malformed.
bool split_table_name(const std::string& qualified, std::string& schema, std::string& table);

/// The columns pgoutput sends for the table (not dropped, not generated) in attnum order.
/// `found` false (and ok) when there is no such table, view or partitioned table.
status load_table_columns(pg_connection& c, const std::string& schema, const std::string& table,
                          table_columns& out, bool& found);

}  // namespace edgepipe::pgcdc
