#include "stages/sources/http_poll_source.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sources/cron_schedule.hpp"

namespace edgepipe {

namespace {
std::once_flag curl_once;
constexpr std::uint64_t kMs = 1'000'000;  // ns per ms

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
  const std::size_t bytes = size * n;
  if (s.batch->open_body_size() + bytes > s.max_body) {
    s.too_large = true;  // keep what fits, then abort the transfer
    const std::size_t room = s.max_body - s.batch->open_body_size();
    s.batch->append_body(data, room);
    return 0;
  }
  s.batch->append_body(data, bytes);
  return bytes;
}

std::size_t http_poll_source::on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto& s = *static_cast<poll_state*>(user);
  const std::string_view line(data, size * n);
  std::string_view value;
  if (header_is(line, "etag", value)) {
    s.pending_etag = value;
  } else if (header_is(line, "last-modified", value)) {
    s.pending_last_modified = value;
  } else if (header_is(line, "retry-after", value)) {
    // Either delta-seconds or an HTTP date.
    char* end = nullptr;
    const std::string v(value);
    const unsigned long secs = std::strtoul(v.c_str(), &end, 10);
    if (end != v.c_str() && *end == '\0') {
      s.retry_after_ms = secs * 1000;
    } else if (const time_t when = curl_getdate(v.c_str(), nullptr); when > 0) {
      const std::int64_t delta = static_cast<std::int64_t>(when) * 1000 - unix_now_ns() / 1'000'000;
      s.retry_after_ms = delta > 0 ? static_cast<std::uint64_t>(delta) : 0;
    }
  }
  return size * n;
}

status http_poll_source::open() {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return status::error("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
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
    for (const auto& [name, value] : spec.http->headers)
      s->headers = curl_slist_append(s->headers, (name + ": " + value).c_str());
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
  curl_slist_free_all(s.conditional_headers);
  s.conditional_headers = nullptr;
  for (const curl_slist* h = s.headers; h; h = h->next)
    s.conditional_headers = curl_slist_append(s.conditional_headers, h->data);
  if (s.spec->conditional) {
    if (!s.etag.empty())
      s.conditional_headers =
          curl_slist_append(s.conditional_headers, ("If-None-Match: " + s.etag).c_str());
    if (!s.last_modified.empty())
      s.conditional_headers = curl_slist_append(s.conditional_headers,
                                                ("If-Modified-Since: " + s.last_modified).c_str());
  }
  curl_easy_setopt(s.easy, CURLOPT_HTTPHEADER, s.conditional_headers);
  s.started_ns = now;
  s.in_flight = true;
  s.counters->polls.add();
  curl_multi_add_handle(multi_, s.easy);
}

void http_poll_source::log_state_change(poll_state& s, const std::string& what) {
  if (s.last_state == what) return;  // once per state change, not every poll
  s.last_state = what;
  log_line(what == "ok" ? log_level::info : log_level::warn, "source " + s.counters->source, what);
}

void http_poll_source::schedule_after_failure(poll_state& s, std::uint64_t now,
                                              std::uint64_t retry_after_ms) {
  ++s.failures;
  std::uint64_t delay = retry_after_ms;
  if (delay == 0) {
    // Exponential backoff with "equal jitter": half fixed, half random, capped.
    std::uint64_t base = s.spec->backoff_initial_ms;
    for (unsigned i = 1; i < s.failures && base < s.spec->backoff_max_ms; ++i) base *= 2;
    if (base > s.spec->backoff_max_ms) base = s.spec->backoff_max_ms;
    delay = base / 2 + jitter(base / 2);
  }
  s.counters->retries_scheduled.add();
  s.next_due_ns = now + delay * kMs;
}

void http_poll_source::finish_transfer(poll_state& s, CURLcode result) {
  curl_multi_remove_handle(multi_, s.easy);
  s.in_flight = false;
  const std::uint64_t now = mono_now_ns();
  const std::int64_t received = unix_now_ns();
  long status_code = 0;
  curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status_code);
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
  if (status_code >= 200 && status_code < 300 && (s.too_large || result != CURLE_OK))
    s.counters->responses_2xx.add();  // the status line said 2xx even if the body went wrong
  if (s.too_large) {
    s.counters->oversized.add();
    error = payload_error::too_large;
    emit = true;  // dead-lettered with its bytes; the schedule goes on
    log_state_change(s, "body larger than max_body_bytes (" + std::to_string(s.max_body) + ")");
  } else if (result != CURLE_OK) {
    s.counters->transport_errors.add();
    if (got > 0 && status_code >= 200 && status_code < 300) {
      s.counters->truncated.add();
      error = payload_error::truncated;
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

void http_poll_source::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    for (auto& s : states_)
      if (!s->in_flight && s->next_due_ns <= mono_now_ns()) start_transfer(*s, mono_now_ns());
    int running = 0;
    curl_multi_perform(multi_, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      poll_state* s = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
      finish_transfer(*s, m->data.result);
    }
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
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait_ms), nullptr);
  }
  if (capture_) (void)capture_->close();
  output_.close();
}

void http_poll_source::request_stop() noexcept {
  stop_.store(true, std::memory_order_relaxed);
  if (multi_) curl_multi_wakeup(multi_);
}

}  // namespace edgepipe
