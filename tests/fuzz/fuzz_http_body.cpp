// Fuzz target: an HTTP source's body and header handling (stages/sources/http_body, the part of
// stages/sources/http_poll_source that libcurl's callbacks run) and what becomes of the body: the
// fuzzer's bytes give a body limit, a sequence of header lines and body chunks as libcurl would
// deliver them, and how the transfer ended; the body is then finished into a payload (too_large
// or truncated when it went wrong) and run through the transform with the seed specs, which
// dead-letter a broken body.
// Checked besides ASan/UBSan: the kept body is exactly the first min(total, limit) bytes that
// arrived; too_large exactly when the limit was passed; the padding after the body is zeros (the
// parser reads it); a broken body is dead-lettered, never turned into records; a Retry-After
// wait never overflows the poller's nanosecond clock and a delta-seconds value N waits at least
// min(N s, 1 day).
#include <fuzzer/FuzzedDataProvider.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "core/batch.hpp"
#include "fuzz_util.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/sources/http_body.hpp"
#define EDGEPIPE_LIBCURL_NO_CALL_MACROS  // loads it, calls nothing of it directly
#include "stages/sources/libcurl.hpp"
#include "stages/transform/transform_engine.hpp"
#include "stages/transform/transform_program.hpp"

namespace {

using namespace edgepipe;

constexpr std::int64_t kNowUnixMs = 1'700'000'123'456;

const std::vector<transform_program>& seed_programs() {
  static const std::vector<transform_program> programs = [] {
    pipeline_config config;
    if (!load_default_config(pipeline_stage_checks(), config)) std::abort();
    std::vector<transform_program> out;
    for (const source_spec& spec : config.sources) {
      transform_program p;
      if (!transform_program::compile(spec, p)) std::abort();
      out.push_back(std::move(p));
    }
    return out;
  }();
  return programs;
}

/// N when `v` is delta-seconds (digits only), saturated; -1 otherwise.
long double delta_seconds(const std::string& line) {
  const auto colon = line.find(':');
  if (colon == std::string::npos) return -1;
  std::string name = line.substr(0, colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name != "retry-after") return -1;
  std::string v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return -1;
  long double n = 0;
  for (const char c : v) n = n * 10 + (c - '0');
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // read_response_header parses Retry-After dates with curl_getdate, through the loaded libcurl.
  static const bool curl_loaded = static_cast<bool>(load_libcurl());
  if (!curl_loaded) std::abort();
  FuzzedDataProvider in(data, size);
  const auto max_body = in.ConsumeIntegralInRange<std::size_t>(0, 1 << 16);
  payload_batch batch;
  batch.add("{\"before\":1}", 0, 200, 0, 0);  // a body already in the batch stays untouched
  batch.begin_body();
  std::string arrived;
  bool too_large = false;
  std::string etag, last_modified;
  std::uint64_t retry_after_ms = 0;
  while (in.remaining_bytes() > 0 && !too_large) {
    if (in.ConsumeBool()) {
      const std::string line = in.ConsumeRandomLengthString(256);
      read_response_header(line, kNowUnixMs, etag, last_modified, retry_after_ms);
      if (retry_after_ms > ~std::uint64_t{0} / 1'000'000 / 2)
        fuzz::fail("a Retry-After wait that overflows the poller's clock");
      if (const long double n = delta_seconds(line); n >= 0) {
        const long double want = n < 86400 ? n * 1000 : 86400.0L * 1000;
        if (static_cast<long double>(retry_after_ms) < want)
          fuzz::fail("a delta-seconds Retry-After that waits less than it says");
      }
    } else {
      const std::string chunk = in.ConsumeRandomLengthString(4096);
      arrived += chunk;
      too_large = !append_body_limited(batch, chunk, max_body);
    }
  }
  const std::size_t want = arrived.size() < max_body ? arrived.size() : max_body;
  if (too_large != (arrived.size() > max_body)) fuzz::fail("too_large disagrees with the limit");
  if (batch.open_body() != std::string_view(arrived).substr(0, want))
    fuzz::fail("the kept body is not the first bytes that arrived");

  const bool failed = in.ConsumeBool();  // the transfer ended in a transport error
  const payload_error error = too_large ? payload_error::too_large
                              : failed  ? payload_error::truncated
                                        : payload_error::none;
  const auto source = static_cast<source_id>(data[0] % seed_programs().size());
  batch.finish_body(source, 200, kNowUnixMs * 1'000'000, 1, error);
  if (batch.body(batch.payloads()[0]) != "{\"before\":1}")
    fuzz::fail("a body already in the batch changed");
  const payload& p = batch.payloads().back();
  if (p.body_length != want) fuzz::fail("the finished body has the wrong length");
  const char* pad = batch.body(p).data() + p.body_length;
  for (std::size_t i = 0; i < kPayloadPadding; ++i)
    if (pad[i] != 0) fuzz::fail("the padding after a body is not zeros");

  transform_engine engine(seed_programs(), transform_limits{});
  record_batch out, dead;
  std::uint64_t sequence = 0;
  const payload_outcome o = engine.run(p, batch.body(p), out, dead, sequence);
  if (error != payload_error::none && (o.records != 0 || !out.empty()))
    fuzz::fail("a broken body was turned into records");
  if (error != payload_error::none && dead.empty())
    fuzz::fail("a broken body was not dead-lettered");
  return 0;
}
