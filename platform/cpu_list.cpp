#include "platform/cpu_list.hpp"

#include <charconv>

#include "platform/trim.hpp"

namespace edgepipe {

namespace {

/// A CPU number: digits only (no sign, no blanks inside), 0..kMaxCpuNumber.
bool parse_cpu(std::string_view text, int& cpu) {
  text = trim_whitespace(text);
  if (text.empty() || text.front() == '-') return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), cpu);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && cpu <= kMaxCpuNumber;
}

}  // namespace

bool parse_cpu_list(std::string_view text, std::vector<int>& cpus, std::string& error) {
  auto refuse = [&](const std::string& why) {
    error = "CPU list \"" + std::string(text) + "\" " + why +
            "; expected CPU numbers and ranges such as \"0\", \"0-3\", \"0,2\" or \"0-1,4\" "
            "(CPUs 0.." +
            std::to_string(kMaxCpuNumber) + "), or \"all\"";
    return false;
  };
  cpus.clear();
  if (trim_whitespace(text) == "all") return true;
  if (trim_whitespace(text).empty()) return refuse("is empty");
  std::vector<bool> chosen(kMaxCpuNumber + 1, false);
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim_whitespace(rest.substr(0, comma));
    const std::string quoted = "\"" + std::string(item) + "\"";
    if (item.empty()) return refuse("has an empty item");
    const std::size_t dash = item.find('-');
    int first = 0;
    int last = 0;
    if (dash == std::string_view::npos) {
      if (!parse_cpu(item, first)) return refuse("has " + quoted + ", not a CPU number");
      last = first;
    } else {
      if (!parse_cpu(item.substr(0, dash), first) || !parse_cpu(item.substr(dash + 1), last))
        return refuse("has " + quoted + ", not a range FIRST-LAST of CPU numbers");
      if (last < first) return refuse("has the range " + quoted + ", which runs backwards");
    }
    for (int cpu = first; cpu <= last; ++cpu) chosen[static_cast<std::size_t>(cpu)] = true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  for (int cpu = 0; cpu <= kMaxCpuNumber; ++cpu)
    if (chosen[static_cast<std::size_t>(cpu)]) cpus.push_back(cpu);
  return true;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace edgepipe
