// A libpq connection with the session settings the pgoutput decoder relies on (ISO dates, UTC,
// hex bytea, exact floats), as a normal SQL session or a `replication=database` walsender
// session. RAII for connections and results; the password is passed separately and never
// appears in messages. runs on: the postgres_cdc source thread (one owner at a time).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace edgepipe::pgcdc {

struct pg_result_deleter {
  void operator()(PGresult* r) const noexcept;  // PQclear, through the loaded libpq
};
using pg_result = std::unique_ptr<PGresult, pg_result_deleter>;

/// The options every session of the source uses: output formats the type mapping parses.
inline constexpr std::string_view session_options =
    "-c datestyle=ISO -c timezone=UTC -c intervalstyle=postgres -c bytea_output=hex "
    "-c extra_float_digits=3 -c client_encoding=UTF8";

class pg_connection {
 public:
  pg_connection() = default;
  ~pg_connection() { close(); }
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  /// `conninfo`: libpq keyword/value string or URI (no password in it is needed); `password`
  /// overrides any in conninfo when non-empty.
  status open(const std::string& conninfo, const std::string& password, bool replication,
              const std::string& application_name);
  void close() noexcept;
  bool is_open() const noexcept { return conn_ != nullptr; }
  PGconn* raw() const noexcept { return conn_; }

  /// Runs one command; error unless the result status is `expect` (PGRES_TUPLES_OK etc.).
  status exec(const std::string& sql, ExecStatusType expect, pg_result* out = nullptr);
  /// Parameterised query (text parameters), expecting rows.
  status query(const std::string& sql, const std::vector<std::string>& params, pg_result& out);
  /// The connection's last error message, one line.
  std::string error_message() const;
  /// SQL string literal / identifier quoting through libpq.
  std::string quote_literal(std::string_view s) const;
  std::string quote_identifier(std::string_view s) const;

 private:
  PGconn* conn_ = nullptr;
};

}  // namespace edgepipe::pgcdc
