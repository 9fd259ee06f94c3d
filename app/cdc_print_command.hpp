// `edgepipe cdc-print`: runs the postgres_cdc source alone and writes each Debezium event as one
// JSON line {"topic", "key", "value"} to stdout; a commit is confirmed to PostgreSQL only after
// its lines were flushed to stdout. For operators (what would the source emit?) and for the CDC
// integration tests, until the source feeds the pipeline (docs/cdc.md, "Status").
#pragma once

#include <string>

#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

namespace edgepipe {

/// `password`: empty (libpq's PGPASSWORD/.pgpass), "env:NAME" or "file:PATH".
int cdc_print(pgcdc::postgres_cdc_options options, const std::string& password);

}  // namespace edgepipe
