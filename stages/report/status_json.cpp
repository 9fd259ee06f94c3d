#include "stages/report/status_json.hpp"

#include <algorithm>
#include <vector>

#include "core/waiter.hpp"
#include "io/trace_format.hpp"
#include "platform/clock.hpp"
#include "platform/cpu_placement.hpp"
#include "platform/log.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/report/health.hpp"
#include "stages/report/json_out.hpp"
#include "stages/report/metrics_text.hpp"

namespace edgepipe {

namespace {

constexpr std::uint64_t kRateWindowNs = 900'000'000;  // rates: over >= 0.9 s
constexpr std::uint64_t kRecentNs = 10'000'000'000;   // "failing" and last_10s windows
constexpr std::uint64_t kProblemFreshMs = 30'000;     // a logged error older is history

const char* http_state_name(std::uint64_t s) {
  switch (static_cast<http_source_state>(s)) {
    case http_source_state::starting:
      return "starting";
    case http_source_state::polling:
      return "polling";
    case http_source_state::retry_after:
      return "retry_after";
    case http_source_state::backing_off:
      return "backing_off";
    default:
      return "failing";
  }
}

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }
double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

void percentiles(json_out& o, std::string_view key, const latency_histogram::snapshot& h,
                 double window_s) {
  o.begin_object(key);
  o.field("window_s", window_s);
  o.field("count", h.total());
  o.field("p50", ms(h.quantile(0.5)));
  o.field("p90", ms(h.quantile(0.9)));
  o.field("p99", ms(h.quantile(0.99)));
  o.field("max", ms(h.quantile(1.0)));
  o.field("mean", h.total() ? ms(h.sum / h.total()) : 0.0);
  o.end_object();
}

/// "last_error" / "last_warning" of a component (null when none), and whether either was
/// logged within kProblemFreshMs ("problem_is_recent": older ones are history).
void problems(json_out& o, std::string_view component, std::int64_t now_unix_ms) {
  component_problems p;
  const bool any = last_problems(component, p);
  const auto fresh = [&](const logged_problem& lp) {
    return !lp.message.empty() &&
           now_unix_ms - lp.unix_ms < static_cast<std::int64_t>(kProblemFreshMs);
  };
  o.field("problem_is_recent", any && (fresh(p.error) || fresh(p.warning)));
  auto one = [&](std::string_view key, const logged_problem& lp) {
    if (!any || lp.message.empty()) {
      o.null_field(key);
      return;
    }
    o.begin_object(key);
    o.field("message", lp.message);
    o.field("unix_ms", lp.unix_ms);
    o.field("count", lp.count);
    o.end_object();
  };
  one("last_error", p.error);
  one("last_warning", p.warning);
}

}  // namespace

status_report::status_report(const pipeline& p, std::string mode)
    : p_(p),
      has_spool_(p.spool_thread_stage() != nullptr),
      mode_(std::move(mode)),
      started_mono_ns_(mono_now_ns()) {
  auto add = [&](std::string key, const counter& c) {
    index_.emplace(std::move(key), counters_.size());
    counters_.push_back(&c);
  };
  p_.counters().for_each([&](const stage_counters& c) {
    add(c.name + ".in", c.records_in);
    add(c.name + ".out", c.records_out);
    add(c.name + ".failed", c.failed);
  });
  add("payloads", p_.transform().payload_counters().payloads);
  for (std::size_t i = 0; i < p_.source_names().size(); ++i)
    if (const auto* sc = p_.transform().source_counters(i)) {
      add("src:" + p_.source_names()[i] + ".payloads", sc->payloads);
      add("src:" + p_.source_names()[i] + ".records", sc->records);
    }
}

status_report::sample status_report::take_sample() const {
  sample s;
  s.mono_ns = mono_now_ns();
  s.values.reserve(counters_.size());
  for (const counter* c : counters_) s.values.push_back(c->get());
  return s;
}

latency_histogram::snapshot status_report::latency_now() const {
  latency_histogram::snapshot h;
  for (const auto& sk : p_.sinks()) h.merge(delivery_latency(sk->counters()).read());
  return h;
}

std::uint64_t status_report::value(const sample* s, const std::string& key) const {
  if (s == nullptr) return 0;
  const auto it = index_.find(key);
  return it == index_.end() || it->second >= s->values.size() ? 0 : s->values[it->second];
}

const status_report::sample* status_report::reference(std::uint64_t now,
                                                      std::uint64_t age_ns) const {
  const sample* best = history_.empty() ? nullptr : &history_.front();
  for (const auto& s : history_) {
    if (now - s.mono_ns < age_ns) break;
    best = &s;
  }
  return best;
}

std::string status_report::json() {
  std::lock_guard lock(mutex_);
  sample now = take_sample();
  const latency_histogram::snapshot latency = latency_now();
  latency_histogram::snapshot fsync;
  if (p_.spool_thread_stage()) fsync = p_.spool_thread_stage()->appender().fsync_latency().read();
  const std::uint64_t t = now.mono_ns;
  while (!history_.empty() && t - history_.front().mono_ns > kHistoryNs) history_.pop_front();
  const sample* rate_ref = reference(t, kRateWindowNs);
  const sample* recent_ref = reference(t, kRecentNs);
  const double rate_window = rate_ref ? seconds(t - rate_ref->mono_ns) : 0.0;
  auto counter = [&](const sample* s, const std::string& k) { return value(s, k); };
  auto rate = [&](const std::string& k) -> double {
    if (rate_ref == nullptr || rate_window <= 0) return 0.0;
    const std::uint64_t a = counter(&now, k), b = counter(rate_ref, k);
    return a > b ? static_cast<double>(a - b) / rate_window : 0.0;
  };
  // Grew since the sample ~10 s ago (or since start when there is no older one).
  auto grew_recently = [&](const std::string& k) {
    return counter(&now, k) > (recent_ref ? counter(recent_ref, k) : 0);
  };

  const pipeline& p = p_;
  const std::int64_t now_unix_ms = unix_now_ns() / 1'000'000;
  json_out o;
  o.begin_object();
  o.field("version", EDGEPIPE_VERSION);
  o.field("mode", mode_);
  const std::string why = not_ready_reason(p);
  o.field("state", why.empty() ? std::string("running") : why);
  o.field("now_unix_ms", now_unix_ms);
  o.field("uptime_s", seconds(t - started_mono_ns_));
  o.field("rate_window_s", rate_window);
  {
    const cpu_placement_snapshot cpus = current_cpu_placement();
    o.begin_object("cpus");  // [pipeline] cpus: what the process runs on now
    o.field("mode", cpus.mode);
    o.field("now", cpus.cpus);
    o.field("spread", cpus.spread_count);
    o.field("narrowed", cpus.narrow_count);
    o.field("spinning", waiter::spinning());  // waits spin before blocking: spread, not on one CPU
    o.end_object();
  }

  const auto* tc = p.counters().find("transform");
  const auto& pc = p.transform().payload_counters();
  o.begin_object("totals");
  o.field("payloads", pc.payloads.get());
  o.field("records", tc->records_out.get());
  o.field("rejected", tc->rejected.get());
  o.field("filtered", tc->filtered.get());
  o.field("payloads_rejected", pc.payloads_rejected.get());
  o.field("skipped_non_2xx", pc.skipped_status.get());
  o.field("dead_letters", p.dead_letters().counters().records_out.get());
  o.field("payloads_per_s", rate("payloads"));
  o.field("records_per_s", rate("transform.out"));
  o.end_object();

  // ---- sources
  o.begin_array("sources");
  for (std::size_t i = 0; i < p.source_names().size(); ++i) {
    const std::string& name = p.source_names()[i];
    const auto& spec = p.config().sources[i];
    const http_source_counters* hc = nullptr;
    if (p.http())
      for (const auto& c : p.http()->source_counters())
        if (c->source == name) hc = c.get();
    const pgcdc::postgres_cdc_stage* cdc = nullptr;
    for (const auto& c : p.cdc_sources())
      if (c->name() == name) cdc = c.get();
    o.begin_object();
    o.field("name", name);
    o.field("kind", cdc ? "postgres_cdc" : hc ? "http" : (p.replay() ? "replay" : "idle"));
    const auto* sc = p.transform().source_counters(i);
    o.field("payloads", sc ? sc->payloads.get() : 0);
    o.field("records", sc ? sc->records.get() : 0);
    o.field("rejected", sc ? sc->rejected.get() : 0);
    o.field("payloads_per_s", rate("src:" + name + ".payloads"));
    o.field("records_per_s", rate("src:" + name + ".records"));
    if (hc) {
      const std::uint64_t errors = hc->responses_4xx.get() + hc->responses_429.get() +
                                   hc->responses_5xx.get() + hc->transport_errors.get() +
                                   hc->truncated.get() + hc->oversized.get();
      o.field("state", http_state_name(hc->state.get()));
      o.field("errors", errors);
      o.begin_object("http");
      o.field("interval_ms", spec.http ? spec.http->interval_ms : std::uint64_t{0});
      o.field("schedule", spec.http ? spec.http->schedule : std::string());
      o.field("polls", hc->polls.get());
      o.field("last_status", hc->last_status.get());
      o.field("last_latency_ms", ms(hc->last_latency_ns.get()));
      const std::uint64_t next = hc->next_poll_unix_ms.get();
      if (next != 0) {
        o.field("next_poll_unix_ms", next);
        const auto in_ms = static_cast<std::int64_t>(next) - now_unix_ms;
        o.field("next_poll_in_s", static_cast<double>(in_ms > 0 ? in_ms : 0) / 1000.0);
      } else {
        o.null_field("next_poll_unix_ms");
        o.null_field("next_poll_in_s");
      }
      o.field("consecutive_failures", hc->failures.get());
      o.begin_object("responses");
      o.field("2xx", hc->responses_2xx.get());
      o.field("304", hc->responses_304.get());
      o.field("429", hc->responses_429.get());
      o.field("4xx", hc->responses_4xx.get());
      o.field("5xx", hc->responses_5xx.get());
      o.end_object();
      o.field("transport_errors", hc->transport_errors.get());
      o.field("truncated", hc->truncated.get());
      o.field("oversized", hc->oversized.get());
      o.field("bytes", hc->bytes.get());
      o.field("retries_scheduled", hc->retries_scheduled.get());
      o.end_object();
      problems(o, "source " + name, now_unix_ms);
    } else if (cdc) {
      const auto& k = cdc->source_counters();
      o.field("state", cdc->state());
      o.field("errors", k.errors.load());
      o.null_field("http");
      o.begin_object("postgres_cdc");
      o.field("slot", cdc->slot());
      o.field("publication", spec.cdc ? spec.cdc->publication : std::string());
      o.field("streaming", k.streaming.load());
      o.field("lag_bytes", cdc->lag_bytes());
      o.field("lag_s", cdc_lag_seconds(*cdc));
      o.field("confirmed_lsn", pgcdc::format_lsn(k.confirmed_lsn.load()));
      o.field("received_lsn", pgcdc::format_lsn(k.received_lsn.load()));
      o.field("inserts", k.inserts.load());
      o.field("updates", k.updates.load());
      o.field("deletes", k.deletes.load());
      o.field("truncates", k.truncates.load());
      o.field("reads", k.reads.load());
      o.field("tombstones", k.tombstones.load());
      o.field("transactions", k.transactions.load());
      o.field("reconnects", k.reconnects.load());
      o.field("unknown_type_values", k.unknown_type_values.load());
      o.field("pending_commits", cdc->pending_commits());
      o.end_object();
      o.field("problem_is_recent", false);
      const std::string err = cdc->last_error();
      if (err.empty())
        o.null_field("last_error");
      else
        o.field("last_error", err);
      o.null_field("last_warning");
    } else {
      const char* state = "idle";  // a source the trace has no payload of (yet)
      if (p.replay() && p.replay_ring()->closed())
        state = "finished";
      else if (p.replay() && sc && sc->payloads.get() != 0)
        state = "replaying";
      o.field("state", state);
      o.field("errors", sc ? sc->rejected.get() : 0);
      o.null_field("http");
      o.field("problem_is_recent", false);
      o.null_field("last_error");
      o.null_field("last_warning");
    }
    o.end_object();
  }
  o.end_array();

  // ---- replay
  if (p.replay()) {
    const auto& r = *p.replay();
    const auto* rc = p.counters().find("source:replay");
    o.begin_object("replay");
    const auto& replay_config = p.config().replay;
    o.field("trace", replay_config ? replay_config->trace : std::string());
    if (r.speed() > 0)
      o.field("speed", r.speed());
    else
      o.field("speed", "max");
    o.field("state", p.replay_ring()->closed() ? "finished" : "replaying");
    const std::uint64_t size = r.trace_bytes();
    const std::uint64_t read =
        r.bytes_read() + (size >= kTraceFileHeaderBytes ? kTraceFileHeaderBytes : 0);
    o.field("trace_bytes", size);
    o.field("bytes_read", read);
    o.field("progress",
            size ? std::min(1.0, static_cast<double>(read) / static_cast<double>(size)) : 0.0);
    o.field("payloads", rc ? rc->records_in.get() : 0);
    o.field("payloads_per_s", rate("source:replay.in"));
    const std::uint64_t pos = r.position_unix_ms();
    if (pos)
      o.field("position_unix_ms", pos);
    else
      o.null_field("position_unix_ms");
    o.field("unknown_source_payloads", r.unknown_source_payloads());
    o.end_object();
  } else {
    o.null_field("replay");
  }

  // ---- transform
  o.begin_object("transform");
  o.field("records_in", tc->records_in.get());
  o.field("records_out", tc->records_out.get());
  o.field("rejected", tc->rejected.get());
  o.field("filtered", tc->filtered.get());
  o.field("records_per_s", rate("transform.out"));
  o.field("input_stalls", p.transform().input_stalls());
  o.field("output_stalls", p.transform().output_stalls());
  o.end_object();

  // ---- ring edges
  o.begin_array("edges");
  auto edge = [&](std::string_view from, std::string_view to, std::size_t occupancy,
                  std::size_t capacity, std::uint64_t stalls, double per_s) {
    o.begin_object();
    o.field("from", from);
    o.field("to", to);
    o.field("occupancy", static_cast<std::uint64_t>(occupancy));
    o.field("capacity", static_cast<std::uint64_t>(capacity));
    o.field("stalls", stalls);
    o.field("records_per_s", per_s);
    o.end_object();
  };
  if (p.replay_ring())
    edge("replay", "transform", p.replay_ring()->occupancy(), p.replay_ring()->capacity(),
         p.replay_ring()->stalls(), rate("source:replay.out"));
  if (p.http_ring())
    edge("http", "transform", p.http_ring()->occupancy(), p.http_ring()->capacity(),
         p.http_ring()->stalls(), rate("source:http.out"));
  if (p.spool_thread_stage()) {
    auto& in = p.spool_thread_stage()->input();
    edge("transform", "spool", in.occupancy(), in.capacity(), in.stalls(), rate("spool.in"));
  }
  for (const auto& sk : p.sinks()) {
    const std::string sname = "sink:" + sk->target().name();
    if (p.spool_state())
      edge("spool", sname, 0, 0, 0, rate(sname + ".in"));
    else
      edge("transform", sname, sk->input().occupancy(), sk->input().capacity(),
           sk->input().stalls(), rate(sname + ".in"));
  }
  {
    const auto& dl = p.dead_letters().input();
    edge("transform", "dead-letter", dl.occupancy(), dl.capacity(), dl.stalls(),
         rate("sink:dead-letter.in"));
  }
  o.end_array();

  // ---- spool
  std::vector<spool_segment> segments;
  if (p.spool_state()) {
    const auto& cfg = p.config().spool;
    const auto* spc = p.counters().find("spool");
    segments = p.spool_state()->segments();
    const std::uint64_t bytes = p.spool_state()->total_bytes();
    o.begin_object("spool");
    o.field("dir", cfg.dir);
    o.field("bytes", bytes);
    o.field("max_bytes", cfg.max_bytes);
    o.field("used_ratio",
            cfg.max_bytes ? static_cast<double>(bytes) / static_cast<double>(cfg.max_bytes) : 0.0);
    o.field("segments", static_cast<std::uint64_t>(segments.size()));
    o.field("on_full", cfg.on_full == full_policy::block ? "block" : "drop_oldest");
    o.field("fsync", cfg.fsync == fsync_policy::every_batch ? "every_batch"
                     : cfg.fsync == fsync_policy::interval  ? "interval"
                                                            : "off");
    o.field("appended_records", spc ? spc->records_out.get() : 0);
    o.field("appended_per_s", rate("spool.out"));
    o.field("committed_id", p.spool_state()->committed_end());
    o.field("blocked", p.spool_thread_stage()->blocked());
    o.field("full_waits", p.spool_thread_stage()->full_waits());
    o.field("not_spooled", p.spool_thread_stage()->not_spooled());
    o.field("dropped_segments", p.spool_state()->dropped_segments());
    std::uint64_t dropped = 0;
    for (std::size_t i = 0; i < p.sinks().size(); ++i)
      dropped += p.spool_state()->dropped_records(i);
    o.field("dropped_records", dropped);
    o.field("memory_tail_bytes",
            static_cast<std::uint64_t>(p.spool_thread_stage()->memory_tail().bytes()));
    o.field("fsyncs", fsync.total());
    percentiles(o, "fsync_ms", recent_ref ? fsync.minus(recent_ref->fsync) : fsync,
                recent_ref ? seconds(t - recent_ref->mono_ns) : seconds(t - started_mono_ns_));
    o.end_object();
  } else {
    o.null_field("spool");
  }

  // ---- sinks
  o.begin_array("sinks");
  for (std::size_t i = 0; i < p.sinks().size(); ++i) {
    sink_stage& sk = *p.sinks()[i];
    const std::string& name = sk.target().name();
    const std::string key = "sink:" + name;
    const stage_counters& c = sk.counters();
    o.begin_object();
    o.field("name", name);
    o.field("type", p.config().sinks[i].type);
    o.field("delivered", c.records_out.get());
    o.field("failed", c.failed.get());
    o.field("retried", c.retries.get());
    o.field("duplicates", c.duplicates.get());
    o.field("in_flight", c.in_flight.get());
    o.field("delivered_per_s", rate(key + ".out"));
    o.field("failed_per_s", rate(key + ".failed"));
    std::uint64_t backlog = 0;
    bool retrying = false;
    if (p.spool_state()) {
      backlog = sk.backlog();
      const std::uint64_t w = p.spool_state()->watermark(i), end = p.spool_state()->committed_end();
      // Bytes: each segment's share of the unconfirmed id range (records are of similar size
      // within a segment); no disk read.
      double bytes = 0;
      for (const auto& seg : segments) {
        if (seg.end_id <= w || seg.first_id >= end || seg.end_id <= seg.first_id) continue;
        const std::uint64_t lo = std::max(seg.first_id, w), hi = std::min(seg.end_id, end);
        bytes += static_cast<double>(seg.bytes) * static_cast<double>(hi - lo) /
                 static_cast<double>(seg.end_id - seg.first_id);
      }
      const auto age =
          backlog ? p.spool_thread_stage()->appended_at().age_of(w, t) : append_clock::age{};
      o.begin_object("backlog");
      o.field("records", backlog);
      o.field("bytes", static_cast<std::uint64_t>(bytes));
      o.field("oldest_age_s", seconds(age.ns));
      o.field("age_is_lower_bound", age.lower_bound);
      o.field("watermark", w);
      o.field("rewinds", sk.rewinds());
      o.field("dropped", p.spool_state()->dropped_records(i));
      o.end_object();
      retrying = sk.rewinds() != 0 && backlog != 0 && grew_recently(key + ".failed");
    } else {
      o.begin_object("backlog");
      o.field("records", static_cast<std::uint64_t>(sk.input().occupancy()));
      o.null_field("bytes");
      o.null_field("oldest_age_s");
      o.field("age_is_lower_bound", false);
      o.end_object();
    }
    const bool failing = grew_recently(key + ".failed");
    const double delivered_rate = rate(key + ".out");
    std::string state = "ok";
    if (failing)
      state = "failing";
    else if (backlog != 0 && delivered_rate == 0 && rate_ref != nullptr &&
             counter(&now, key + ".out") == counter(recent_ref, key + ".out") &&
             t - started_mono_ns_ > kRecentNs)
      state = "stalled";
    o.field("state", state);
    o.field("retrying", retrying);
    problems(o, key, now_unix_ms);
    percentiles(o, "latency_ms", delivery_latency(c).read(), seconds(t - started_mono_ns_));
    o.end_object();
  }
  o.end_array();
  {
    const stage_counters& c = p.dead_letters().counters();
    o.begin_object("dead_letter_sink");
    o.field("path", p.config().dead_letter.path);
    o.field("written", c.records_out.get());
    o.field("failed", c.failed.get());
    o.end_object();
  }

  // ---- latency, all sinks: payload received -> the sink confirmed (with the spool; without
  // one nothing tracks answers: -> handed to the sink)
  o.begin_object("latency_ms");
  o.field("to", has_spool_ ? "confirmed" : "handed");
  percentiles(o, "last_10s", recent_ref ? latency.minus(recent_ref->latency) : latency,
              recent_ref ? seconds(t - recent_ref->mono_ns) : seconds(t - started_mono_ns_));
  const sample* oldest = history_.empty() ? nullptr : &history_.front();
  percentiles(o, "last_5m", oldest ? latency.minus(oldest->latency) : latency,
              oldest ? seconds(t - oldest->mono_ns) : seconds(t - started_mono_ns_));
  percentiles(o, "since_start", latency, seconds(t - started_mono_ns_));
  o.end_object();

  // ---- the last dead letters: rebuilt only when one arrived since the last document
  const std::uint64_t dead_total = p.last_dead_letters().total();
  if (dead_total != dead_letters_total_ || dead_letters_json_.empty()) {
    json_out d;
    d.begin_object();
    d.field("total", dead_total);
    d.begin_array("last");
    p.last_dead_letters().for_each_newest_first([&](const dead_letter_entry& e) {
      d.begin_object();
      d.field("number", e.number);
      d.field("source", e.source);
      d.field("reason", e.reason);
      d.field("received_at", e.received_at);
      d.field("http_status", e.http_status);
      d.field("size", e.size);
      d.field("truncated", e.truncated);
      d.field("preview", e.preview);
      d.end_object();
    });
    d.end_array();
    d.end_object();
    dead_letters_json_ = d.take();
    dead_letters_total_ = dead_total;
  }
  o.raw_field("dead_letters", dead_letters_json_);
  o.end_object();

  if (history_.empty() || t - history_.back().mono_ns >= kMinSampleGapNs) {
    now.latency = latency.compact();
    now.fsync = fsync.compact();
    history_.push_back(std::move(now));
  }
  return o.take();
}

}  // namespace edgepipe
