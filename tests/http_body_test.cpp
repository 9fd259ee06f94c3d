// Response handling of the HTTP source that needs no server (stages/sources/http_body): the body
// limit and the headers the poller acts on.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/batch.hpp"
#include "stages/sources/http_body.hpp"

namespace edgepipe {
namespace {

constexpr std::int64_t kNowMs = 1'700'000'000'000;

std::uint64_t retry_after(const std::string& line, std::uint64_t before = 7) {
  std::string etag, last_modified;
  std::uint64_t ms = before;
  read_response_header(line, kNowMs, etag, last_modified, ms);
  return ms;
}

TEST(HttpBody, RetryAfterDeltaSeconds) {
  EXPECT_EQ(retry_after("Retry-After: 120\r\n"), 120'000u);
  EXPECT_EQ(retry_after("retry-after:0\r\n"), 0u);
}

// Found in review of tests/fuzz/fuzz_http_body: strtoul read "-5" as 2^64 - 5 seconds.
TEST(HttpBody, RetryAfterThatIsNotDigitsIsIgnored) {
  EXPECT_EQ(retry_after("Retry-After: -5\r\n"), 7u);
  EXPECT_EQ(retry_after("Retry-After: +5\r\n"), 7u);
  EXPECT_EQ(retry_after("Retry-After: \r\n"), 7u);
  EXPECT_EQ(retry_after("Retry-After: soon\r\n"), 7u);
}

TEST(HttpBody, RetryAfterIsCappedAtOneDay) {
  EXPECT_EQ(retry_after("Retry-After: 99999999\r\n"), kMaxRetryAfterSeconds * 1000);
  EXPECT_EQ(retry_after("Retry-After: 99999999999999999999999999\r\n"),
            kMaxRetryAfterSeconds * 1000);
  // An HTTP date far ahead is cut the same way; one in the past means now.
  EXPECT_EQ(retry_after("Retry-After: Fri, 31 Dec 2100 23:59:59 GMT\r\n"),
            kMaxRetryAfterSeconds * 1000);
  EXPECT_EQ(retry_after("Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"), 0u);
}

TEST(HttpBody, StatusLineForgetsThePreviousResponsesHeaders) {
  std::string etag, last_modified;
  std::uint64_t ms = 0;
  read_response_header("ETag: \"abc\"\r\n", kNowMs, etag, last_modified, ms);
  read_response_header("Retry-After: 3\r\n", kNowMs, etag, last_modified, ms);
  EXPECT_EQ(etag, "\"abc\"");
  EXPECT_EQ(ms, 3000u);
  read_response_header("HTTP/1.1 200 OK\r\n", kNowMs, etag, last_modified, ms);
  EXPECT_EQ(etag, "");
  EXPECT_EQ(ms, 0u);
}

TEST(HttpBody, BodyKeepsWhatFitsUnderTheLimit) {
  payload_batch batch;
  batch.begin_body();
  EXPECT_TRUE(append_body_limited(batch, "abcd", 6));
  EXPECT_FALSE(append_body_limited(batch, "efgh", 6));
  EXPECT_EQ(batch.open_body_size(), 6u);
}

}  // namespace
}  // namespace edgepipe
