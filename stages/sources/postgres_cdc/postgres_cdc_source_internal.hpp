// What the postgres_cdc source's .cpp files share (postgres_cdc_source.hpp says which holds
// which part): the log component, the wall clock in micros, the primary key query. Private to
// the source: only its .cpp files include this header.
// Threading: the source thread (run() and what it calls).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "platform/clock.hpp"
#include "stages/sources/postgres_cdc/pg_connection.hpp"

namespace edgepipe::pgcdc::source_detail {

inline constexpr std::string_view kComponent = "src:pgcdc";

inline std::int64_t now_unix_us() { return unix_now_ns() / 1000; }

/// The primary key's column names of table `relid`, in key order (postgres_cdc_source.cpp).
status load_key_columns(pg_connection& c, std::uint32_t relid, std::vector<std::string>& out);

}  // namespace edgepipe::pgcdc::source_detail
