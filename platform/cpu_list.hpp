// CPU lists in the taskset/cpuset syntax ("0", "0-3", "0,2", "0-1,4"): read from [pipeline] cpus
// and printed back in messages. Threading: pure functions, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace edgepipe {

/// The highest CPU number a list may name (the size of glibc's cpu_set_t, 1024 CPUs).
inline constexpr int kMaxCpuNumber = 1023;

/// Parses a comma-separated list of CPU numbers and ranges (whitespace around items allowed)
/// into `cpus`, sorted, duplicates merged. "all" gives an empty `cpus` (no restriction). On a
/// malformed list returns false with `error` quoting it and saying the expected syntax.
bool parse_cpu_list(std::string_view text, std::vector<int>& cpus, std::string& error);

/// Sorted CPU numbers -> the shortest list in the same syntax: {0, 1, 2, 5} -> "0-2,5".
std::string format_cpu_list(const std::vector<int>& cpus);

}  // namespace edgepipe
