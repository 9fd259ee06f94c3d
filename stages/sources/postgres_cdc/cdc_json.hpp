// The few JSON text writers the CDC envelope needs (the transform's json_text lives in a layer
// this source may not include). Append to a byte_arena; no allocation once it is warm.
// Pure; runs on: any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe::pgcdc {

/// A quoted JSON string; invalid UTF-8 becomes U+FFFD, control characters are escaped.
void append_json_string(byte_arena& out, std::string_view s);
void append_int(byte_arena& out, std::int64_t v);
/// Shortest round-trip form (std::to_chars); finite values only.
void append_double(byte_arena& out, double v);
/// The whole of `s` as a finite double, or nullopt.
std::optional<double> parse_double(std::string_view s) noexcept;

}  // namespace edgepipe::pgcdc
