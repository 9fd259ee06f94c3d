// ISO-8601 times for the transform's timestamp casts and event times, allocation-free.
// Threading: pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe {

/// "2026-01-01T00:00:00.123Z" / "+02:00" offsets / date only -> Unix milliseconds.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view s) noexcept;
/// Unix milliseconds -> "2026-01-01T00:00:00.123Z" appended to out.
void append_iso8601_ms(byte_arena& out, std::int64_t unix_ms);

}  // namespace edgepipe
