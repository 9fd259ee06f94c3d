#pragma once
// Finds the newest record of one source that the spool holds on disk: what a source that can
// resume by position (postgres_cdc: resend_filter.hpp) already handed over before a restart.
// Reads segments newest first, each whole, and checks every frame (CRC); stops at the first
// frame that does not check (a cut tail) and at the segment's end id.
// runs on: the thread that builds the pipeline, after spool::open and before the spool thread
// starts (reads files the spool thread would otherwise append to).
#include <functional>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "stages/spool/spool.hpp"

namespace edgepipe {

/// Sets `value` to the value bytes of the newest record of `source_name` that `accept` takes
/// (e.g. not a tombstone) and `found` to true; `found` false when no segment holds one. An
/// unreadable segment is an error naming it.
status newest_record_value(const spool& sp, std::string_view source_name,
                           const std::function<bool(std::string_view)>& accept, std::string& value,
                           bool& found);

}  // namespace edgepipe
