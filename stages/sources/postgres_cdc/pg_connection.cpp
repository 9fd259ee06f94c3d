// libpq wrapper. Messages carry libpq's error text, which never includes the password.
#include "stages/sources/postgres_cdc/pg_connection.hpp"

#include <array>
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe::pgcdc {

void pg_result_deleter::operator()(PGresult* r) const noexcept { PQclear(r); }

status pg_connection::open(const std::string& conninfo, const std::string& password,
                           bool replication, const std::string& application_name) {
  close();
  if (status s = load_libpq(); !s) return s.prefixed("postgres: ");
  const std::string opts(session_options);
  // dbname is expanded first; later keywords override what the conninfo string says.
  std::array<const char*, 6> keys{};
  std::array<const char*, 6> vals{};
  std::size_t n = 0;
  keys[n] = "dbname";
  vals[n++] = conninfo.c_str();
  if (replication) {
    keys[n] = "replication";
    vals[n++] = "database";
  }
  keys[n] = "options";
  vals[n++] = opts.c_str();
  keys[n] = "application_name";
  vals[n++] = application_name.c_str();
  if (!password.empty()) {
    keys[n] = "password";
    vals[n++] = password.c_str();
  }
  keys[n] = nullptr;
  vals[n] = nullptr;
  conn_ = PQconnectdbParams(keys.data(), vals.data(), 1);
  if (conn_ == nullptr) return status::error("postgres: out of memory creating a connection");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = "postgres: connect failed: " + error_message();
    close();
    return status::error(std::move(msg));
  }
  return status::ok();
}

void pg_connection::close() noexcept {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

std::string pg_connection::error_message() const {
  std::string m = conn_ != nullptr ? PQerrorMessage(conn_) : "not connected";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& c : m) {
    if (c == '\n') c = ' ';
  }
  return m;
}

status pg_connection::exec(const std::string& sql, ExecStatusType expect, pg_result* out) {
  if (conn_ == nullptr) return status::error("postgres: not connected");
  pg_result r(PQexec(conn_, sql.c_str()));
  if (!r || PQresultStatus(r.get()) != expect) {
    std::string first_word = sql.substr(0, sql.find(' '));
    return status::error("postgres: " + first_word + " failed: " + error_message());
  }
  if (out != nullptr) *out = std::move(r);
  return status::ok();
}

status pg_connection::query(const std::string& sql, const std::vector<std::string>& params,
                            pg_result& out) {
  if (conn_ == nullptr) return status::error("postgres: not connected");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  out.reset(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0));
  if (!out || PQresultStatus(out.get()) != PGRES_TUPLES_OK) {
    return status::error("postgres: catalog query failed: " + error_message());
  }
  return status::ok();
}

std::string pg_connection::quote_literal(std::string_view s) const {
  char* q = PQescapeLiteral(conn_, s.data(), s.size());
  if (q == nullptr) return "''";
  std::string r(q);
  PQfreemem(q);
  return r;
}

std::string pg_connection::quote_identifier(std::string_view s) const {
  char* q = PQescapeIdentifier(conn_, s.data(), s.size());
  if (q == nullptr) return "\"\"";
  std::string r(q);
  PQfreemem(q);
  return r;
}

}  // namespace edgepipe::pgcdc
