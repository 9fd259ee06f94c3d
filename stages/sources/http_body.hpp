// The pure part of an HTTP source's response handling (stages/sources/http_poll_source): how much
// of an arriving body chunk is kept under the source's size limit, and what a response header line
// tells the poller (ETag, Last-Modified, Retry-After). No I/O and no libcurl handle, so it is
// fuzzed on its own (tests/fuzz/fuzz_http_body.cpp).
// runs on: the poller thread (libcurl's write and header callbacks); plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/batch.hpp"

namespace edgepipe {

/// Appends `chunk` to the open body of `batch` while the body stays within `max_body` bytes.
/// Returns false when it would go past: what fits is kept (dead-lettered as too_large by the
/// caller), the rest dropped, and the caller aborts the transfer.
bool append_body_limited(payload_batch& batch, std::string_view chunk, std::size_t max_body);

/// The longest wait a Retry-After header can ask for (one day); longer values are cut to it.
inline constexpr std::uint64_t kMaxRetryAfterSeconds = 86'400;

/// Reads one response header line ("Name: value\r\n"); sets `etag`, `last_modified` or
/// `retry_after_ms` when the line is one of those headers, leaves them alone otherwise.
/// Retry-After is delta-seconds or an HTTP date (compared with `now_unix_ms`), capped at
/// kMaxRetryAfterSeconds; a value that is neither (e.g. "-5") is ignored. A status line
/// ("HTTP/...") starts a new response and clears all three.
void read_response_header(std::string_view line, std::int64_t now_unix_ms, std::string& etag,
                          std::string& last_modified, std::uint64_t& retry_after_ms);

}  // namespace edgepipe
