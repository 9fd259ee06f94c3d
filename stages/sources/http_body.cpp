#include "stages/sources/http_body.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
// Last: the calls below go through the table loaded at run time.
#include "platform/trim.hpp"
#include "stages/sources/libcurl.hpp"

namespace edgepipe {

namespace {

bool header_is(std::string_view line, std::string_view name, std::string_view& value) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  value = trim_whitespace(line.substr(name.size() + 1));
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
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response starts (after a redirect or a 100 Continue): forget the previous one's.
    etag.clear();
    last_modified.clear();
    retry_after_ms = 0;
  } else if (header_is(line, "etag", value)) {
    etag = value;
  } else if (header_is(line, "last-modified", value)) {
    last_modified = value;
  } else if (header_is(line, "retry-after", value)) {
    // Either delta-seconds (digits only: strtoul would take "-5" as a huge number) or an HTTP
    // date; anything else (empty, signed, garbage) is ignored. Waits are cut to one day.
    constexpr std::uint64_t kMaxMs = kMaxRetryAfterSeconds * 1000;
    if (value.empty() || value.front() == '-' || value.front() == '+') return;
    std::uint64_t secs = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (end == value.data() + value.size() && ec == std::errc()) {
      retry_after_ms = std::min(secs, kMaxRetryAfterSeconds) * 1000;
    } else if (end == value.data() + value.size() && ec == std::errc::result_out_of_range) {
      retry_after_ms = kMaxMs;
    } else if (const time_t when = curl_getdate(std::string(value).c_str(), nullptr); when > 0) {
      const std::int64_t delta = static_cast<std::int64_t>(when) * 1000 - now_unix_ms;
      retry_after_ms = delta > 0 ? std::min(static_cast<std::uint64_t>(delta), kMaxMs) : 0;
    }
  }
}

}  // namespace edgepipe
