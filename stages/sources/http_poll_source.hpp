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
#include <memory>
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
  counter responses_4xx;
  counter responses_429;
  counter responses_5xx;
  counter transport_errors;  // connect/read errors and timeouts
  counter truncated;         // bodies cut short (dead-lettered)
  counter oversized;         // bodies above the limit (dead-lettered)
  counter bytes;
  counter retries_scheduled;
  log2_histogram latency_ns;  // request start -> response complete
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
  /// runs on: any thread. Wakes the poller; in-flight transfers are abandoned.
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
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace edgepipe
