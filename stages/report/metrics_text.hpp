// The Prometheus text exposition of every counter, for /metrics (docs/operations.md lists each
// metric). Threading: any thread, typically the HTTP endpoint's; reads atomics only.
#pragma once

#include <string>

#include "stages/pipeline/pipeline.hpp"

namespace edgepipe {

std::string prometheus_text(const pipeline& p);
/// Seconds since the commit time of the last transaction received, while something received is
/// not confirmed to PostgreSQL yet; 0 when everything received is confirmed.
double cdc_lag_seconds(const pgcdc::postgres_cdc_stage& c);

}  // namespace edgepipe
