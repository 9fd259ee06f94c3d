// RFC 6901 JSON pointers ("" or "/a/b~1c"): the syntax the config validates and the transform
// compiles. Threading: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace edgepipe {

/// Splits a pointer into unescaped segments. False with `error` set if malformed.
bool split_json_pointer(std::string_view pointer, std::vector<std::string>& segments,
                        std::string& error);

}  // namespace edgepipe
