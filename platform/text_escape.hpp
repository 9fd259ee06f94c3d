// The one place names and messages are escaped for the two text formats the daemon emits:
// JSON strings (summary, counter reports, logs in json format, CLI output) and Prometheus label
// values (/metrics). Invalid UTF-8 becomes U+FFFD in both, so every output stays parseable.
// Threading: pure functions, any thread (cold paths: reports, logs, errors).
#pragma once

#include <string>
#include <string_view>

namespace edgepipe {

/// Appends `s` as the inside of a JSON string: '"' '\\' and control bytes escaped (\n, \t, ...,
/// \u00XX), invalid UTF-8 replaced by U+FFFD.
void append_json_escaped(std::string& out, std::string_view s);
/// `s` as a complete JSON string, quotes included.
std::string json_string(std::string_view s);

/// Appends `s` as a Prometheus label value (text format 0.0.4): '\\' '"' and line feed escaped,
/// invalid UTF-8 replaced by U+FFFD.
void append_prometheus_escaped(std::string& out, std::string_view s);
/// name="value" with the value escaped.
std::string prometheus_label(std::string_view name, std::string_view value);

}  // namespace edgepipe
