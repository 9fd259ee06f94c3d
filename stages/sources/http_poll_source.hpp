// Polls every configured HTTP source from one thread with one libcurl multi handle: per-source
// schedules with jitter, keep-alive connections, gzip/br decoding, bodies received straight into
// padded payload batches (no copy before simdjson), conditional requests, Retry-After on 429/503,
// exponential backoff with jitter otherwise, and optional capture of every response to a trace.
// A slow or dead origin never holds up the others: transfers run concurrently.
// Threading: open() on the main thread; run() is the body of the thread "src:http";
// request_stop() from any thread.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "core/stage_counters.hpp"
#include "io/trace_capture.hpp"

namespace edgepipe {

/// Per-source counters for /metrics. Written by the poller thread only.
struct http_source_counters {
  std::string source;
  counter polls;  // requests started
  counter responses_2xx;
  counter responses_304;  // unchanged: counted, not re-emitted
  counter responses_3xx;  // a redirect not followed: too many hops, or to another scheme
  counter redirects;      // hops followed on the way to a final response
  counter responses_4xx;
  counter responses_429;
  counter responses_5xx;
  counter transport_errors;  // connect/read errors and timeouts
  counter timeouts;          // polls that ran out of `timeout` (a partial body is dead-lettered)
  counter truncated;         // bodies cut short by the origin (dead-lettered)
  counter oversized;         // bodies above the limit (dead-lettered; the source backs off)
  counter budget_aborts;     // transfers aborted by pipeline.http_body_budget (backs off)
  counter bytes;
  counter retries_scheduled;
  latency_histogram latency_ns;  // request start -> response complete
  // Live state for the status page (stages/report/status_json), set once per response.
  gauge state;              // http_source_state
  gauge last_status;        // HTTP status of the last response; 0 = none or transport error
  gauge last_latency_ns;    // of the last request
  gauge next_poll_unix_ms;  // when the next request is due (wall clock)
  gauge failures;           // consecutive failed polls (0 after a success)
};

/// What a source is doing, for the status page.
enum class http_source_state : std::uint64_t {
  starting = 0,     // no response yet
  polling = 1,      // the last response was a success (2xx or 304)
  retry_after = 2,  // 429/503 with Retry-After: waiting as the origin asked
  backing_off = 3,  // 429/503 without Retry-After: exponential backoff
  failing = 4,      // transport error, other 4xx/5xx, or a body cut short / too large
};

class http_poll_source {
 public:
  http_poll_source(const pipeline_config& config, std::vector<std::string> source_names,
                   ring_edge<payload_batch*>& output, batch_pool<payload_batch>& pool,
                   stage_counters& counters);
  ~http_poll_source();
  http_poll_source(const http_poll_source&) = delete;
  http_poll_source& operator=(const http_poll_source&) = delete;

  /// runs on: main thread. Sets up handles and the capture file.
  status open();
  /// runs on: poller thread, until request_stop().
  void run();
  /// runs on: any thread. Wakes the poller: no new poll starts; transfers in flight finish
  /// (their responses are emitted) within the config's drain_timeout, then run() returns.
  void request_stop() noexcept;

  const std::vector<std::unique_ptr<http_source_counters>>& source_counters() const noexcept {
    return per_source_;
  }
  std::uint64_t captured_frames() const noexcept { return captured_.get(); }

 private:
  struct poll_state;
  void start_transfer(poll_state& s, std::uint64_t now);
  void finish_transfer(poll_state& s, CURLcode result);
  void schedule_after_failure(poll_state& s, std::uint64_t now, std::uint64_t retry_after_ms);
  std::uint64_t next_regular_poll(poll_state& s, std::uint64_t now);
  std::uint64_t jitter(std::uint64_t max_ms);
  void log_state_change(poll_state& s, const std::string& what);
  /// A poll that could not be started (curl refused the handle or a header): counted, logged,
  /// retried after a backoff.
  void fail_start(poll_state& s, std::uint64_t now, const std::string& why);
  void multi_failure(const char* call, CURLMcode rc);
  /// Reaps completed transfers (finish_transfer each); false when curl_multi_perform failed
  /// (counted and logged by multi_failure, which also backs off).
  bool reap_completed();
  /// After a stop: lets the transfers in flight finish, bounded by drain_timeout.
  void finish_in_flight();
  void publish_state(poll_state& s, long status_code, std::uint64_t now);
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user);

  const pipeline_config& config_;
  std::vector<std::string> source_names_;
  ring_edge<payload_batch*>& output_;
  batch_pool<payload_batch>& pool_;
  stage_counters& counters_;
  CURLM* multi_ = nullptr;
  std::vector<std::unique_ptr<poll_state>> states_;
  std::vector<std::unique_ptr<http_source_counters>> per_source_;
  std::unique_ptr<trace_capture> capture_;
  counter captured_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mutex_;  // with stop_cv_: waits after a curl_multi failure end on stop
  std::condition_variable stop_cv_;
  std::uint64_t body_budget_ = 0;     // pipeline.http_body_budget
  std::uint64_t inflight_bytes_ = 0;  // body bytes held by transfers in flight (poller thread)
  unsigned multi_errors_ = 0;         // consecutive curl_multi_perform/poll failures
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace edgepipe
