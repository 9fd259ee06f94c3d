// The same primary key rule as the source (postgres_cdc_source.cpp, kPrimaryKeySql): the
// columns of the table's pg_index row with indisprimary.
#include "stages/sources/postgres_cdc/pg_table_columns.hpp"

#include <cstdlib>
#include <utility>
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe::pgcdc {
namespace {

constexpr const char* kColumnsSql =
    "SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, "
    "COALESCE(a.attnum = ANY(i.indkey::int2[]), false) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "AND a.attgenerated = '' "
    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') "
    "ORDER BY a.attnum";

}  // namespace

bool split_table_name(const std::string& qualified, std::string& schema, std::string& table) {
  const auto dot = qualified.find('.');
  if (dot == std::string::npos) {
    schema = "public";
    table = qualified;
  } else {
    schema = qualified.substr(0, dot);
    table = qualified.substr(dot + 1);
  }
  return !schema.empty() && !table.empty() && table.find('.') == std::string::npos;
}

status load_table_columns(pg_connection& c, const std::string& schema, const std::string& table,
                          table_columns& out, bool& found) {
  pg_result r;
  if (auto s = c.query(kColumnsSql, {schema, table}, r); !s) return s;
  out.schema = schema;
  out.table = table;
  out.columns.clear();
  const int rows = PQntuples(r.get());
  found = rows > 0;
  out.columns.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    table_column col;
    col.name = PQgetvalue(r.get(), i, 0);
    col.type_oid = static_cast<std::uint32_t>(std::strtoul(PQgetvalue(r.get(), i, 1), nullptr, 10));
    col.type_modifier =
        static_cast<std::int32_t>(std::strtol(PQgetvalue(r.get(), i, 2), nullptr, 10));
    col.not_null = PQgetvalue(r.get(), i, 3)[0] == 't';
    col.primary_key = PQgetvalue(r.get(), i, 4)[0] == 't';
    out.columns.push_back(std::move(col));
  }
  return status::ok();
}

}  // namespace edgepipe::pgcdc
