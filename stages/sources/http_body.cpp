#include "stages/sources/http_body.hpp"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>

namespace edgepipe {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return s;
}

bool header_is(std::string_view line, std::string_view name, std::string_view& value) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  value = trim(line.substr(name.size() + 1));
  return true;
}

}  // namespace

bool append_body_limited(payload_batch& batch, std::string_view chunk, std::size_t max_body) {
  const std::size_t have = batch.open_body_size();
  if (have + chunk.size() > max_body) {
    batch.append_body(chunk.data(), have < max_body ? max_body - have : 0);
    return false;
  }
  batch.append_body(chunk.data(), chunk.size());
  return true;
}

void read_response_header(std::string_view line, std::int64_t now_unix_ms, std::string& etag,
                          std::string& last_modified, std::uint64_t& retry_after_ms) {
  std::string_view value;
  if (header_is(line, "etag", value)) {
    etag = value;
  } else if (header_is(line, "last-modified", value)) {
    last_modified = value;
  } else if (header_is(line, "retry-after", value)) {
    // Either delta-seconds or an HTTP date.
    char* end = nullptr;
    const std::string v(value);
    const unsigned long secs = std::strtoul(v.c_str(), &end, 10);
    if (end != v.c_str() && *end == '\0') {
      retry_after_ms = secs * 1000;
    } else if (const time_t when = curl_getdate(v.c_str(), nullptr); when > 0) {
      const std::int64_t delta = static_cast<std::int64_t>(when) * 1000 - now_unix_ms;
      retry_after_ms = delta > 0 ? static_cast<std::uint64_t>(delta) : 0;
    }
  }
}

}  // namespace edgepipe
