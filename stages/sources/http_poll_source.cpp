#include "stages/sources/http_poll_source.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sources/cron_schedule.hpp"
#include "stages/sources/http_body.hpp"
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/libcurl.hpp"

namespace edgepipe {

namespace {
constexpr std::uint64_t kMs = 1'000'000;  // ns per ms
constexpr long kMaxRedirects = 5;
constexpr std::size_t kKeepAfterAbort = std::size_t{1} << 20;
}  // namespace

struct http_poll_source::poll_state {
  http_poll_source* owner = nullptr;
  source_id id = 0;
  const http_poll_spec* spec = nullptr;
  http_source_counters* counters = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* conditional_headers = nullptr;
  std::size_t max_body = 0;
  payload_batch* batch = nullptr;  // receives the body in place
  bool in_flight = false;
  bool too_large = false;
  bool over_budget = false;
  std::uint64_t budget_bytes = 0;  // this transfer's share of inflight_bytes_
  std::uint64_t started_ns = 0;
  std::uint64_t next_due_ns = 0;
  std::uint64_t retry_after_ms = 0;  // from the last response's Retry-After
  std::string etag;
  std::string last_modified;
  std::string pending_etag;
  std::string pending_last_modified;
  unsigned failures = 0;
  std::string last_state;  // for logging once per change
  std::optional<cron_schedule> schedule;
};

http_poll_source::http_poll_source(const pipeline_config& config,
                                   std::vector<std::string> source_names,
                                   ring_edge<payload_batch*>& output,
                                   batch_pool<payload_batch>& pool, stage_counters& counters)
    : config_(config),
      source_names_(std::move(source_names)),
      output_(output),
      pool_(pool),
      counters_(counters) {}

http_poll_source::~http_poll_source() {
  for (auto& s : states_) {
    if (s->easy) {
      if (s->in_flight) curl_multi_remove_handle(multi_, s->easy);
      curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->conditional_headers);
    if (s->batch) pool_.release(s->batch);
  }
  if (multi_) curl_multi_cleanup(multi_);
}

std::uint64_t http_poll_source::jitter(std::uint64_t max_ms) {
  if (max_ms == 0) return 0;
  rng_ ^= rng_ << 13;  // xorshift64: the schedule needs spread, not cryptography
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_ % (max_ms + 1);
}

std::size_t http_poll_source::on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto& s = *static_cast<poll_state*>(user);
  http_poll_source& owner = *s.owner;
  const std::size_t bytes = size * n;
  const bool too_large = s.batch->open_body_size() + bytes > s.max_body;
  const std::size_t take = too_large ? s.max_body - s.batch->open_body_size() : bytes;
  // One budget for every source together: memory stays bounded however many send large
  // bodies at the same time. It is charged with the buffers' capacity, grown here (not by the
  // arena's own doubling) so that the charge is what the buffer may really occupy, including
  // the moment a growing buffer is copied (old and new both alive). The transfer that would go
  // past it is aborted (and its source backs off).
  byte_arena& arena = s.batch->arena();
  const std::size_t need = arena.size() + take + kPayloadPadding;
  if (need > arena.capacity()) {
    const std::size_t old_cap = arena.capacity();
    // Doubling keeps copies rare; never beyond what the largest accepted body needs.
    const std::size_t new_cap = std::max(need, std::min(old_cap * 2, s.max_body + kPayloadPadding));
    const std::uint64_t charged = std::max<std::uint64_t>(s.budget_bytes, old_cap);
    if (owner.inflight_bytes_ - s.budget_bytes + charged + new_cap > owner.body_budget_) {
      s.over_budget = true;
      return 0;
    }
    arena.reserve(new_cap);
    owner.inflight_bytes_ += new_cap - s.budget_bytes;
    s.budget_bytes = new_cap;
  } else if (s.budget_bytes < arena.capacity()) {
    // A pooled buffer that already has room: charge what it holds.
    const std::uint64_t cap = arena.capacity();
    if (owner.inflight_bytes_ - s.budget_bytes + cap > owner.body_budget_) {
      s.over_budget = true;
      return 0;
    }
    owner.inflight_bytes_ += cap - s.budget_bytes;
    s.budget_bytes = cap;
  }
  if (!append_body_limited(*s.batch, {data, bytes}, s.max_body)) {
    s.too_large = true;  // what fits is kept; returning short aborts the transfer
    return 0;
  }
  return bytes;
}

std::size_t http_poll_source::on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto& s = *static_cast<poll_state*>(user);
  read_response_header({data, size * n}, unix_now_ns() / 1'000'000, s.pending_etag,
                       s.pending_last_modified, s.retry_after_ms);
  return size * n;
}

status http_poll_source::open() {
  if (status s = load_libcurl(); !s) return s.prefixed("HTTP sources: ");  // + curl_global_init
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return status::error("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  body_budget_ = config_.http_body_budget;
  rng_ ^= static_cast<std::uint64_t>(unix_now_ns());
  const std::uint64_t now = mono_now_ns();
  for (std::size_t i = 0; i < config_.sources.size(); ++i) {
    const source_spec& spec = config_.sources[i];
    if (!spec.http) continue;
    auto counters = std::make_unique<http_source_counters>();
    counters->source = spec.name;
    auto s = std::make_unique<poll_state>();
    s->owner = this;
    s->id = static_cast<source_id>(i);
    s->spec = &*spec.http;
    s->counters = counters.get();
    s->max_body = spec.http->max_body_bytes ? spec.http->max_body_bytes : config_.max_payload_bytes;
    s->easy = curl_easy_init();
    if (s->easy == nullptr) return status::error("curl_easy_init failed");
    for (const auto& [name, value] : spec.http->headers) {
      std::string line = name;
      line.append(": ").append(value);
      curl_slist* grown = curl_slist_append(s->headers, line.c_str());
      if (grown == nullptr)  // the old list is still ours (freed by the destructor)
        return status::error("source " + spec.name + ": curl_slist_append failed (out of memory)");
      s->headers = grown;
    }
    CURL* e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, spec.http->url.c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     spec.http->method == "GET" ? nullptr : spec.http->method.c_str());
    if (spec.http->method == "HEAD") curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (!spec.http->body.empty()) curl_easy_setopt(e, CURLOPT_POSTFIELDS, spec.http->body.c_str());
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every decoding libcurl has: gzip, br...
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.http->timeout_ms));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(spec.http->connect_timeout_ms));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "edgepipe/" EDGEPIPE_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &http_poll_source::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &http_poll_source::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, s.get());
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Redirects: followed, at most kMaxRedirects hops; an http source may be sent to https,
    // an https source only to https (never downgraded). See docs/configuration.md (url).
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
                     spec.http->url.rfind("https://", 0) == 0 ? "https" : "http,https");
    if (!spec.http->schedule.empty()) {
      std::string why;
      s->schedule = cron_schedule::parse(spec.http->schedule, why);
    }
    s->next_due_ns =
        s->schedule ? next_regular_poll(*s, now) : now + jitter(spec.http->jitter_ms) * kMs;
    states_.push_back(std::move(s));
    per_source_.push_back(std::move(counters));
  }
  if (config_.capture) {
    capture_ = std::make_unique<trace_capture>();
    if (status st = capture_->open(config_.capture->path, config_.capture->rotate_bytes); !st)
      return status::error("capture: " + st.message());
  }
  return status::ok();
}

std::uint64_t http_poll_source::next_regular_poll(poll_state& s, std::uint64_t now) {
  if (s.schedule) {
    // Cron times are wall-clock; the loop runs on the monotonic clock: convert the gap.
    const std::int64_t wall_s = unix_now_ns() / 1'000'000'000;
    if (const auto at = s.schedule->next_after(wall_s)) {
      const auto gap_ms = static_cast<std::uint64_t>(*at - wall_s) * 1000;
      return now + (gap_ms + jitter(s.spec->jitter_ms)) * kMs;
    }
    return now + std::uint64_t{3600} * 1000 * kMs;  // no next time: look again in an hour
  }
  return now + (s.spec->interval_ms + jitter(s.spec->jitter_ms)) * kMs;
}

void http_poll_source::start_transfer(poll_state& s, std::uint64_t now) {
  s.batch = pool_.acquire();
  s.batch->begin_body();
  s.too_large = false;
  s.retry_after_ms = 0;
  s.pending_etag.clear();
  s.pending_last_modified.clear();
  s.over_budget = false;
  s.budget_bytes = 0;
  curl_slist_free_all(s.conditional_headers);
  s.conditional_headers = nullptr;
  bool headers_ok = true;
  auto append = [&](const char* line) {
    curl_slist* grown = curl_slist_append(s.conditional_headers, line);
    if (grown == nullptr)
      headers_ok = false;  // the list so far stays valid
    else
      s.conditional_headers = grown;
  };
  for (const curl_slist* h = s.headers; h; h = h->next) append(h->data);
  if (s.spec->conditional) {
    if (!s.etag.empty()) append(("If-None-Match: " + s.etag).c_str());
    if (!s.last_modified.empty()) append(("If-Modified-Since: " + s.last_modified).c_str());
  }
  s.started_ns = now;
  s.counters->polls.add();
  if (!headers_ok) return fail_start(s, now, "curl_slist_append failed (out of memory)");
  curl_easy_setopt(s.easy, CURLOPT_HTTPHEADER, s.conditional_headers);
  if (const CURLMcode rc = curl_multi_add_handle(multi_, s.easy); rc != CURLM_OK)
    return fail_start(s, now,
                      std::string("curl_multi_add_handle failed: ") + curl_multi_strerror(rc));
  s.in_flight = true;
}

void http_poll_source::fail_start(poll_state& s, std::uint64_t now, const std::string& why) {
  s.counters->transport_errors.add();
  pool_.release(s.batch);
  s.batch = nullptr;
  log_state_change(s, "request not started: " + why);
  schedule_after_failure(s, now, 0);
}

void http_poll_source::log_state_change(poll_state& s, const std::string& what) {
  if (s.last_state == what) return;  // once per state change, not every poll
  s.last_state = what;
  log_line(what == "ok" ? log_level::info : log_level::warn, "source " + s.counters->source, what);
}

void http_poll_source::schedule_after_failure(poll_state& s, std::uint64_t now,
                                              std::uint64_t retry_after_ms) {
  ++s.failures;
  std::uint64_t delay = retry_after_ms;  // the origin said when: that wins
  if (delay == 0) {
    // Exponential backoff with "equal jitter" (half fixed, half random), grown from the regular
    // interval so that a failing origin is never asked more often than a healthy one would be.
    const std::uint64_t floor_ms = s.schedule ? 0 : s.spec->interval_ms;
    const std::uint64_t cap = std::max(s.spec->backoff_max_ms, floor_ms);
    std::uint64_t base = std::max(s.spec->backoff_initial_ms, floor_ms);
    for (unsigned i = 1; i < s.failures && base < cap; ++i) base *= 2;
    if (base > cap) base = cap;
    delay = std::max(floor_ms, base / 2 + jitter(base / 2));
  }
  s.counters->retries_scheduled.add();
  s.next_due_ns = now + delay * kMs;
}

void http_poll_source::finish_transfer(poll_state& s, CURLcode result) {
  if (const CURLMcode rc = curl_multi_remove_handle(multi_, s.easy); rc != CURLM_OK)
    log_line(log_level::error, "source " + s.counters->source,
             std::string("curl_multi_remove_handle failed: ") + curl_multi_strerror(rc));
  s.in_flight = false;
  inflight_bytes_ -= s.budget_bytes;
  s.budget_bytes = 0;
  const std::uint64_t now = mono_now_ns();
  const std::int64_t received = unix_now_ns();
  long status_code = 0;
  curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status_code);
  long redirects = 0;
  curl_easy_getinfo(s.easy, CURLINFO_REDIRECT_COUNT, &redirects);
  if (redirects > 0) s.counters->redirects.add(static_cast<std::uint64_t>(redirects));
  s.counters->latency_ns.record(now - s.started_ns);
  const std::size_t got = s.batch->open_body_size();
  s.counters->bytes.add(got);
  counters_.bytes_in.add(got);
  const auto status16 = static_cast<std::uint16_t>(status_code);

  if (capture_ && status_code != 0) {
    trace_frame f{s.counters->source, s.batch->open_body(), received, status16};
    if (capture_->write(f)) {
      captured_.add();
    } else {
      log_line(log_level::error, "src:http", capture_->error() + " (capture stopped)");
      capture_.reset();
    }
  }

  bool emit = false;
  payload_error error = payload_error::none;
  std::uint64_t next = next_regular_poll(s, now);
  if (status_code >= 200 && status_code < 300 &&
      (s.too_large || s.over_budget || result != CURLE_OK))
    s.counters->responses_2xx.add();  // the status line said 2xx even if the body went wrong
  const bool is_2xx = status_code >= 200 && status_code < 300;
  if (s.over_budget) {
    // Not the origin's fault and not a complete body: nothing to dead-letter; poll again later.
    s.counters->budget_aborts.add();
    log_state_change(s, "body aborted: all HTTP sources together hold pipeline.http_body_budget (" +
                            std::to_string(body_budget_) + " bytes) in bodies being received");
    schedule_after_failure(s, now, 0);
    next = s.next_due_ns;
  } else if (s.too_large) {
    s.counters->oversized.add();
    error = payload_error::too_large;
    emit = true;  // dead-lettered with its bytes
    log_state_change(
        s, "body larger than max_body_bytes (" + std::to_string(s.max_body) + "): backing off");
    // Every poll would pull max_body_bytes again for nothing: back off like after a failure.
    schedule_after_failure(s, now, 0);
    next = s.next_due_ns;
  } else if (status_code >= 300 && status_code < 400 && status_code != 304) {
    // A redirect that was not followed: more than kMaxRedirects hops, a Location to a scheme
    // the policy does not allow, or none at all.
    s.counters->responses_3xx.add();
    log_state_change(s, "HTTP " + std::to_string(status_code) + " not followed (" +
                            (result == CURLE_OK ? std::string("no usable Location")
                                                : std::string(curl_easy_strerror(result))) +
                            ")");
    schedule_after_failure(s, now, 0);
    next = s.next_due_ns;
  } else if (result != CURLE_OK) {
    s.counters->transport_errors.add();
    const bool timed_out = result == CURLE_OPERATION_TIMEDOUT;
    if (timed_out) s.counters->timeouts.add();
    if (got > 0 && is_2xx) {
      if (!timed_out) s.counters->truncated.add();
      error = timed_out ? payload_error::timed_out : payload_error::truncated;
      emit = true;
    }
    log_state_change(s, std::string("request failed: ") + curl_easy_strerror(result));
    schedule_after_failure(s, now, 0);
    next = s.next_due_ns;
  } else if (status_code == 304) {
    s.counters->responses_304.add();
    s.failures = 0;
  } else if (status_code >= 200 && status_code < 300) {
    s.counters->responses_2xx.add();
    emit = true;
    s.failures = 0;
    if (!s.pending_etag.empty()) s.etag = s.pending_etag;
    if (!s.pending_last_modified.empty()) s.last_modified = s.pending_last_modified;
    log_state_change(s, "ok");
  } else if (status_code == 429 || status_code == 503) {
    (status_code == 429 ? s.counters->responses_429 : s.counters->responses_5xx).add();
    log_state_change(s, "HTTP " + std::to_string(status_code) + " (backing off" +
                            (s.retry_after_ms ? ", Retry-After honoured)" : ")"));
    schedule_after_failure(s, now, s.retry_after_ms);
    next = s.next_due_ns;
  } else {
    (status_code >= 500 ? s.counters->responses_5xx : s.counters->responses_4xx).add();
    log_state_change(s, "HTTP " + std::to_string(status_code));
    schedule_after_failure(s, now, 0);
    next = s.next_due_ns;
  }
  s.next_due_ns = next;
  publish_state(s, result == CURLE_OK ? status_code : 0, now);

  if (emit && error != payload_error::none) {
    // Only the start of a cut body reaches the dead-letter file: keep that much and give the
    // rest back now, not once the transform is done with it (memory bounded by the budget).
    const std::size_t keep =
        std::min(s.batch->open_body_size(), config_.dead_letter.max_bytes + std::size_t{1});
    const std::string head(s.batch->open_body().substr(0, keep));
    s.batch->abort_body();
    s.batch->trim(0);
    s.batch->begin_body();
    s.batch->append_body(head.data(), head.size());
  } else if (!emit && s.batch->arena().capacity() > kKeepAfterAbort) {
    s.batch->clear();
    s.batch->trim(0);  // an aborted large body: do not park its pages in the pool
  }
  if (emit) {
    s.batch->finish_body(s.id, status16 ? status16 : 200, received, now, error);
    counters_.records_in.add();
    counters_.batches_in.add();
    counters_.records_out.add();
    counters_.bytes_out.add(s.batch->bytes());
    if (!output_.push(s.batch)) pool_.release(s.batch);
  } else {
    pool_.release(s.batch);
  }
  s.batch = nullptr;
}

void http_poll_source::publish_state(poll_state& s, long status_code, std::uint64_t now) {
  http_source_counters& c = *s.counters;
  http_source_state st = http_source_state::failing;
  if (!s.too_large && (status_code == 304 || (status_code >= 200 && status_code < 300)))
    st = http_source_state::polling;
  else if (status_code == 429 || status_code == 503)
    st = s.retry_after_ms ? http_source_state::retry_after : http_source_state::backing_off;
  c.state.set(static_cast<std::uint64_t>(st));
  c.last_status.set(static_cast<std::uint64_t>(status_code));
  c.last_latency_ns.set(now - s.started_ns);
  c.failures.set(s.failures);
  const std::uint64_t wait_ms = s.next_due_ns > now ? (s.next_due_ns - now) / kMs : 0;
  c.next_poll_unix_ms.set(static_cast<std::uint64_t>(unix_now_ns() / 1'000'000) + wait_ms);
}

void http_poll_source::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    for (auto& s : states_)
      if (!s->in_flight && s->next_due_ns <= mono_now_ns()) start_transfer(*s, mono_now_ns());
    if (!reap_completed()) continue;
    // The sleep is worked out after completions, which set each source's next poll time.
    const std::uint64_t now = mono_now_ns();
    std::uint64_t wait_ns = 1000 * kMs;
    for (const auto& s : states_) {
      if (s->in_flight) continue;
      const std::uint64_t until = s->next_due_ns > now ? s->next_due_ns - now : 0;
      if (until < wait_ns) wait_ns = until;
    }
    if (wait_ns == 0) continue;  // something is due now
    // Sleeps until a socket is ready, the next poll is due, or request_stop() wakes us: an idle
    // daemon makes no wake-ups between polls.
    long curl_timeout = -1;
    curl_multi_timeout(multi_, &curl_timeout);
    std::uint64_t wait_ms = (wait_ns + kMs - 1) / kMs;
    if (curl_timeout >= 0 && static_cast<std::uint64_t>(curl_timeout) < wait_ms)
      wait_ms = static_cast<std::uint64_t>(curl_timeout);
    if (const CURLMcode rc =
            curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait_ms), nullptr);
        rc != CURLM_OK) {
      multi_failure("curl_multi_poll", rc);
      continue;
    }
    multi_errors_ = 0;
  }
  finish_in_flight();
  if (capture_) (void)capture_->close();
  output_.close();
}

void http_poll_source::multi_failure(const char* call, CURLMcode rc) {
  // Not expected (out of memory, a bad handle): say so, count it, and do not spin on it.
  counters_.failed.add();
  if (multi_errors_++ == 0)
    log_line(log_level::error, "src:http",
             std::string(call) + " failed: " + curl_multi_strerror(rc) + " (retrying)");
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_for(lock,
                    std::chrono::milliseconds(std::min(1000u, 10u << std::min(multi_errors_, 7u))),
                    [&] { return stop_.load(std::memory_order_relaxed); });
}

bool http_poll_source::reap_completed() {
  int running = 0;
  if (const CURLMcode rc = curl_multi_perform(multi_, &running); rc != CURLM_OK) {
    multi_failure("curl_multi_perform", rc);
    return false;
  }
  int queued = 0;
  while (CURLMsg* m = curl_multi_info_read(multi_, &queued)) {
    if (m->msg != CURLMSG_DONE) continue;
    poll_state* s = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
    finish_transfer(*s, m->data.result);
  }
  return true;
}

void http_poll_source::finish_in_flight() {
  // A stop (SIGTERM, a SIGHUP reload) must not lose a response that is (almost) received: the
  // transfers in flight go on, and their responses are emitted and spooled like any other.
  const std::uint64_t deadline = mono_now_ns() + config_.drain_timeout_ms * kMs;
  for (;;) {
    std::size_t in_flight = 0;
    for (const auto& s : states_)
      if (s->in_flight) ++in_flight;
    if (in_flight == 0) return;
    const std::uint64_t now = mono_now_ns();
    if (now >= deadline) {
      log_line(log_level::warn, "src:http",
               std::to_string(in_flight) +
                   " transfer(s) still in flight at pipeline.drain_timeout: abandoned (counted "
                   "as transport errors)");
      for (const auto& s : states_)
        if (s->in_flight) s->counters->transport_errors.add();
      return;
    }
    if (!reap_completed()) continue;
    const std::uint64_t left_ms = (deadline - now) / kMs;
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(left_ms < 50 ? left_ms + 1 : 50), nullptr);
  }
}

void http_poll_source::request_stop() noexcept {
  {
    std::lock_guard lock(stop_mutex_);
    stop_.store(true, std::memory_order_relaxed);
  }
  stop_cv_.notify_all();
  if (multi_) curl_multi_wakeup(multi_);
}

}  // namespace edgepipe
