// JSON strings for the transform and the dead-letter writer, allocation-free: escaping valid
// UTF-8, and arbitrary bytes made valid (U+FFFD). Numbers: json_numbers.hpp; times: iso8601.hpp.
// Threading: pure functions, any thread.
#pragma once

#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe {

/// Appends `s` (valid UTF-8) as a quoted JSON string.
void append_json_string(byte_arena& out, std::string_view s);
/// Appends arbitrary bytes as a quoted JSON string: invalid UTF-8 becomes U+FFFD.
void append_json_string_lossy(byte_arena& out, std::string_view bytes);

}  // namespace edgepipe
