#include "stages/pipeline.hpp"

#include <sstream>

#include "platform/log.hpp"
#include "platform/thread.hpp"
#include "stages/file_sink.hpp"
#include "stages/sink_factory.hpp"

namespace edgepipe {

pipeline::pipeline(pipeline_config config) : config_(std::move(config)) {}

pipeline::~pipeline() {
  request_stop();
  join();
}

status pipeline::build() {
  if (!config_.replay && !config_.has_http_sources())
    return status::error(config_.origin +
                         ": nothing to run: no [replay] trace and no source with a 'url' (use "
                         "`edgepipe replay --trace PATH`, add [replay] trace = \"...\", or give "
                         "a source a url)");
  std::vector<transform_program> programs;
  for (const auto& spec : config_.sources) {
    transform_program p;
    if (status s = transform_program::compile(spec, p); !s)
      return status::error(config_.origin + ": " + s.message());
    source_names_.push_back(spec.name);
    programs.push_back(std::move(p));
  }
  transform_limits limits;
  limits.max_payload_bytes = config_.max_payload_bytes;
  limits.dead_letter_max_bytes = config_.dead_letter.max_bytes;
  engine_ = std::make_unique<transform_engine>(std::move(programs), limits);

  std::vector<ring_edge<record_batch*>*> outputs;
  if (config_.spool.enabled()) {
    std::vector<std::string> sink_names;
    for (const auto& sc : config_.sinks) sink_names.push_back(sc.name);
    spool_ = std::make_unique<spool>(config_.spool);
    if (status st = spool_->open(sink_names); !st)
      return status::error(config_.origin + ": " + st.message());
    const auto& rec = spool_->recovery();
    if (rec.records != 0 || rec.torn_tail_bytes != 0 || rec.removed_segments != 0)
      log_line(log_level::info, "spool",
               "recovered " + config_.spool.dir + " in " + std::to_string(rec.seconds) +
                   " s: " + std::to_string(rec.segments) + " segment(s), " +
                   std::to_string(rec.records) + " record(s), " + std::to_string(rec.bytes) +
                   " bytes; torn tail cut: " + std::to_string(rec.torn_tail_bytes) + " bytes");
    spool_stage_ = std::make_unique<spool_stage>(*spool_, source_names_, config_.ring_capacity,
                                                 record_pool_, registry_.add("spool"));
    if (status st = spool_stage_->open(); !st) return st;
    outputs.push_back(&spool_stage_->input());
  }
  for (const auto& sc : config_.sinks) {
    auto s = make_sink(config_, sc, source_names_);
    s->set_may_start_down(spool_ != nullptr && config_.sinks_may_start_down);
    if (status st = s->open(); !st) return st;
    sinks_.push_back(std::make_unique<sink_stage>(std::move(s), config_.ring_capacity, record_pool_,
                                                  registry_.add("sink:" + sc.name)));
    if (spool_)
      sinks_.back()->use_spool(*spool_, sinks_.size() - 1, source_names_,
                               &spool_stage_->memory_tail());
    else
      outputs.push_back(&sinks_.back()->input());
  }
  file_sink_config dl;
  dl.path = config_.dead_letter.path;
  dl.rotate_bytes = config_.dead_letter.rotate_bytes;
  auto dls = std::make_unique<dead_letter_recorder>(
      std::make_unique<file_sink>("dead-letter", dl, source_names_), dead_letter_log_);
  if (status st = dls->open(); !st) return st;
  dead_letters_ = std::make_unique<sink_stage>(std::move(dls), config_.ring_capacity, record_pool_,
                                               registry_.add("sink:dead-letter"));

  std::vector<ring_edge<payload_batch*>*> inputs;
  if (config_.replay) {
    replay_ring_ = std::make_unique<ring_edge<payload_batch*>>(config_.ring_capacity,
                                                               &transform_input_waiter_);
    inputs.push_back(replay_ring_.get());
    replay_source_config rc;
    rc.trace = config_.replay->trace;
    rc.speed = config_.replay->speed;
    rc.force_source = config_.replay->source;
    rc.max_payload_bytes = config_.max_payload_bytes;
    replay_ = std::make_unique<replay_source>(rc, source_names_, *replay_ring_, payload_pool_,
                                              registry_.add("source:replay"), stop_);
    if (status s = replay_->open(); !s) return s;
  }
  if (config_.has_http_sources()) {
    http_ring_ = std::make_unique<ring_edge<payload_batch*>>(config_.ring_capacity,
                                                             &transform_input_waiter_);
    inputs.push_back(http_ring_.get());
    http_ = std::make_unique<http_poll_source>(config_, source_names_, *http_ring_, payload_pool_,
                                               registry_.add("source:http"));
    if (status s = http_->open(); !s) return s;
  }
  transform_ = std::make_unique<transform_stage>(*engine_, std::move(inputs), payload_pool_,
                                                 record_pool_, std::move(outputs),
                                                 dead_letters_->input(), registry_.add("transform"),
                                                 config_.batch_records, config_.batch_bytes);
  return status::ok();
}

void pipeline::start(std::function<void()> on_finished) {
  on_finished_ = std::move(on_finished);
  auto launch = [&](std::string name, std::optional<int> cpu, std::function<void()> body) {
    running_.fetch_add(1);
    threads_.push_back(start_stage_thread({std::move(name), cpu}, [this, body = std::move(body)] {
      body();
      if (running_.fetch_sub(1) == 1 && on_finished_) on_finished_();
    }));
  };
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    launch("sink:" + config_.sinks[i].name, config_.sinks[i].cpu,
           [s = sinks_[i].get()] { s->run(); });
  launch("sink:dead-lettr", std::nullopt, [s = dead_letters_.get()] { s->run(); });
  if (spool_stage_) launch("spool", std::nullopt, [s = spool_stage_.get()] { s->run(); });
  launch("transform", config_.transform_cpu, [t = transform_.get()] { t->run(); });
  if (replay_) launch("src:replay", config_.source_cpu, [s = replay_.get()] { s->run(); });
  if (http_) launch("src:http", config_.source_cpu, [s = http_.get()] { s->run(); });
}

void pipeline::request_stop() noexcept {
  stop_.store(true, std::memory_order_relaxed);
  if (http_) http_->request_stop();
}

void pipeline::abandon_delivery() noexcept {
  request_stop();
  if (spool_stage_) spool_stage_->abandon();
  for (auto& s : sinks_) s->abandon();
}

bool pipeline::finished() const noexcept { return running_.load() == 0; }

void pipeline::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  // A clean end with everything confirmed leaves an empty spool.
  if (spool_ && spool_->writing_finished()) (void)spool_->delete_confirmed_segments(true);
}

namespace {
void json_number(std::ostringstream& o, const char* key, double v) {
  o << "\"" << key << "\":" << v;
}
}  // namespace

std::string pipeline::summary_json(double seconds) const {
  std::ostringstream o;
  o.precision(6);
  const auto* t = registry_.find("transform");
  std::uint64_t input_bytes = 0;
  registry_.for_each([&](const stage_counters& c) {
    if (c.name.rfind("source:", 0) == 0) input_bytes += c.bytes_in.get();
  });
  const auto& pc = transform_->payload_counters();
  const std::uint64_t records = t->records_out.get();
  o << "{\"payloads\":" << pc.payloads.get() << ",\"records\":" << records
    << ",\"rejected\":" << t->rejected.get()
    << ",\"rejected_payloads\":" << pc.payloads_rejected.get()
    << ",\"filtered\":" << t->filtered.get() << ",\"skipped_non_2xx\":" << pc.skipped_status.get()
    << ",\"delivered\":{";
  log2_histogram::snapshot latency;
  bool first = true;
  std::ostringstream failed;
  for (const auto& s : sinks_) {
    o << (first ? "" : ",") << "\"" << s->target().name()
      << "\":" << s->counters().records_out.get();
    failed << (first ? "" : ",") << "\"" << s->target().name()
           << "\":" << s->counters().failed.get();
    latency.merge(s->counters().latency_ns.read());
    first = false;
  }
  o << "},\"failed\":{" << failed.str() << "}";
  o << ",\"dead_letters\":" << dead_letters_->counters().records_out.get() << ",";
  json_number(o, "seconds", seconds);
  o << ",";
  json_number(o, "records_per_second", seconds > 0 ? static_cast<double>(records) / seconds : 0);
  o << ",";
  json_number(o, "input_mb_per_second",
              seconds > 0 ? static_cast<double>(input_bytes) / 1e6 / seconds : 0);
  o << ",\"latency_us\":{\"p50\":" << latency.quantile(0.5) / 1000
    << ",\"p99\":" << latency.quantile(0.99) / 1000 << ",\"max\":" << latency.quantile(1.0) / 1000
    << "}";
  if (replay_) {
    const auto& tc = replay_->reader().counters();
    o << ",\"trace\":{\"frames\":" << tc.frames << ",\"corrupt_frames\":" << tc.corrupt_frames
      << ",\"torn_tail_bytes\":" << tc.torn_tail_bytes << ",\"oversized\":" << tc.oversized
      << ",\"unknown_source\":" << replay_->unknown_source_payloads() << "}";
  }
  if (http_) {
    o << ",\"http\":{";
    bool first_source = true;
    for (const auto& c : http_->source_counters()) {
      o << (first_source ? "" : ",") << "\"" << c->source << "\":{\"polls\":" << c->polls.get()
        << ",\"ok\":" << c->responses_2xx.get() << ",\"not_modified\":" << c->responses_304.get()
        << ",\"http_429\":" << c->responses_429.get() << ",\"http_4xx\":" << c->responses_4xx.get()
        << ",\"http_5xx\":" << c->responses_5xx.get()
        << ",\"transport_errors\":" << c->transport_errors.get() << "}";
      first_source = false;
    }
    o << "}";
  }
  if (spool_) {
    const auto& a = spool_stage_->appender();
    const auto& rec = spool_->recovery();
    o << ",\"spool\":{\"appended\":" << a.appended_records() << ",\"bytes\":" << a.appended_bytes()
      << ",\"fsyncs\":" << a.fsyncs();
    const auto fsync_lat = a.fsync_latency().read();
    o << ",\"fsync_us\":{\"p50\":" << fsync_lat.quantile(0.5) / 1000
      << ",\"p99\":" << fsync_lat.quantile(0.99) / 1000
      << ",\"mean\":" << (fsync_lat.total() ? fsync_lat.sum / fsync_lat.total() / 1000 : 0) << "}"
      << ",\"not_spooled\":" << spool_stage_->not_spooled()
      << ",\"full_waits\":" << spool_stage_->full_waits()
      << ",\"follower_waits\":" << spool_stage_->follower_waits()
      << ",\"follower_wait_ms\":" << spool_stage_->follower_wait_ns() / 1'000'000
      << ",\"sinks_left_behind\":" << spool_stage_->followers_left_behind()
      << ",\"recovered_records\":" << rec.records << ",\"torn_tail_bytes\":" << rec.torn_tail_bytes
      << ",\"sinks\":{";
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
      const auto& st = *sinks_[i];
      o << (i ? "," : "") << "\"" << st.target().name() << "\":{\"backlog\":" << st.backlog()
        << ",\"resent\":" << st.counters().retries.get() << ",\"rewinds\":" << st.rewinds()
        << ",\"dropped\":" << spool_->dropped_records(i) << ",\"skipped\":" << st.skipped_records()
        << ",\"from_memory\":" << st.memory_records() << "}";
    }
    o << "}}";
  }
  o << ",\"ring_stalls\":" << transform_->input_stalls() + transform_->output_stalls() << "}";
  return o.str();
}

std::string pipeline::counters_report() const {
  std::ostringstream o;
  registry_.for_each([&](const stage_counters& s) {
    const auto lat = s.latency_ns.read();
    o << "{\"stage\":\"" << s.name << "\",\"batches_in\":" << s.batches_in.get()
      << ",\"records_in\":" << s.records_in.get() << ",\"records_out\":" << s.records_out.get()
      << ",\"rejected\":" << s.rejected.get() << ",\"filtered\":" << s.filtered.get()
      << ",\"failed\":" << s.failed.get() << ",\"retries\":" << s.retries.get()
      << ",\"bytes_in\":" << s.bytes_in.get() << ",\"bytes_out\":" << s.bytes_out.get();
    if (s.name == "source:replay") o << ",\"ring_stalls\":" << replay_ring_->stalls();
    if (s.name == "source:http") o << ",\"ring_stalls\":" << http_ring_->stalls();
    if (s.name == "transform") o << ",\"ring_stalls\":" << transform_->output_stalls();
    if (lat.total() > 0)
      o << ",\"latency_ns\":{\"p50\":" << lat.quantile(0.5) << ",\"p99\":" << lat.quantile(0.99)
        << ",\"max\":" << lat.quantile(1.0) << "}";
    o << "}\n";
  });
  return o.str();
}

namespace {
void metric(std::ostringstream& o, const char* name, const std::string& labels, std::uint64_t v) {
  o << "edgepipe_" << name << "{" << labels << "} " << v << "\n";
}
void histogram(std::ostringstream& o, const char* name, const std::string& labels,
               const log2_histogram::snapshot& h) {
  std::uint64_t cumulative = 0;
  for (int i = 0; i < log2_histogram::kBuckets; ++i) {
    const std::uint64_t c = h.counts[static_cast<std::size_t>(i)];
    if (c == 0 && cumulative == 0) continue;
    cumulative += c;
    o << "edgepipe_" << name << "_bucket{" << labels << ",le=\""
      << static_cast<double>(log2_histogram::upper_bound(i)) / 1e9 << "\"} " << cumulative << "\n";
    if (cumulative == h.total()) break;
  }
  o << "edgepipe_" << name << "_bucket{" << labels << ",le=\"+Inf\"} " << h.total() << "\n";
  o << "edgepipe_" << name << "_sum{" << labels << "} " << static_cast<double>(h.sum) / 1e9 << "\n";
  o << "edgepipe_" << name << "_count{" << labels << "} " << h.total() << "\n";
}
}  // namespace

std::string pipeline::prometheus_text() const {
  std::ostringstream o;
  o << "# TYPE edgepipe_records_in_total counter\n# TYPE edgepipe_records_out_total counter\n"
       "# TYPE edgepipe_rejected_total counter\n# TYPE edgepipe_failed_total counter\n"
       "# TYPE edgepipe_latency_seconds histogram\n";
  registry_.for_each([&](const stage_counters& s) {
    const std::string l = "stage=\"" + s.name + "\"";
    metric(o, "records_in_total", l, s.records_in.get());
    metric(o, "records_out_total", l, s.records_out.get());
    metric(o, "rejected_total", l, s.rejected.get());
    metric(o, "filtered_total", l, s.filtered.get());
    metric(o, "failed_total", l, s.failed.get());
    metric(o, "bytes_in_total", l, s.bytes_in.get());
    metric(o, "bytes_out_total", l, s.bytes_out.get());
    if (s.name.rfind("sink:", 0) == 0) {
      metric(o, "sink_retries_total", l, s.retries.get());
      metric(o, "sink_in_flight", l, s.in_flight.get());
    }
    const auto lat = s.latency_ns.read();
    if (lat.total() > 0) histogram(o, "latency_seconds", l, lat);
  });
  auto ring = [&](const char* edge, const ring_edge<payload_batch*>* r) {
    if (!r) return;
    const std::string l = std::string("edge=\"") + edge + "\"";
    metric(o, "ring_occupancy", l, r->occupancy());
    metric(o, "ring_capacity", l, r->capacity());
    metric(o, "ring_stalls_total", l, r->stalls());
  };
  ring("replay->transform", replay_ring_.get());
  ring("http->transform", http_ring_.get());
  for (const auto& s : sinks_) {
    const std::string l = "edge=\"transform->" + s->target().name() + "\"";
    metric(o, "ring_occupancy", l, s->input().occupancy());
    metric(o, "ring_stalls_total", l, s->input().stalls());
  }
  if (spool_) {
    const auto& a = spool_stage_->appender();
    o << "# TYPE edgepipe_spool_fsync_seconds histogram\n";
    metric(o, "spool_appended_records_total", "", a.appended_records());
    metric(o, "spool_appended_bytes_total", "", a.appended_bytes());
    metric(o, "spool_bytes", "", spool_->total_bytes());
    metric(o, "spool_segments", "", spool_->segments().size());
    metric(o, "spool_committed_id", "", spool_->committed_end());
    metric(o, "spool_fsyncs_total", "", a.fsyncs());
    metric(o, "spool_full_waits_total", "", spool_stage_->full_waits());
    metric(o, "spool_blocked", "", spool_stage_->blocked() ? 1 : 0);
    metric(o, "spool_not_spooled_total", "", spool_stage_->not_spooled());
    metric(o, "spool_follower_waits_total", "", spool_stage_->follower_waits());
    metric(o, "spool_follower_wait_ms_total", "", spool_stage_->follower_wait_ns() / 1'000'000);
    metric(o, "spool_sinks_left_behind_total", "", spool_stage_->followers_left_behind());
    metric(o, "spool_dropped_segments_total", "", spool_->dropped_segments());
    metric(o, "spool_torn_tail_bytes", "", spool_->recovery().torn_tail_bytes);
    metric(o, "spool_recovered_records", "", spool_->recovery().records);
    const auto fs = a.fsync_latency().read();
    if (fs.total() > 0) histogram(o, "spool_fsync_seconds", "stage=\"spool\"", fs);
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
      const std::string l = "sink=\"" + sinks_[i]->target().name() + "\"";
      metric(o, "spool_watermark", l, spool_->watermark(i));
      metric(o, "spool_backlog_records", l, sinks_[i]->backlog());
      metric(o, "spool_dropped_records_total", l, spool_->dropped_records(i));
      metric(o, "spool_skipped_records_total", l, sinks_[i]->skipped_records());
      metric(o, "spool_rewinds_total", l, sinks_[i]->rewinds());
      metric(o, "spool_memory_records_total", l, sinks_[i]->memory_records());
    }
    metric(o, "spool_memory_tail_bytes", "", spool_stage_->memory_tail().bytes());
  }
  const auto& pc = transform_->payload_counters();
  metric(o, "payloads_total", "", pc.payloads.get());
  metric(o, "payloads_rejected_total", "", pc.payloads_rejected.get());
  metric(o, "payloads_non_2xx_total", "", pc.skipped_status.get());
  if (http_) {
    o << "# TYPE edgepipe_http_polls_total counter\n# TYPE edgepipe_http_responses_total counter\n"
         "# TYPE edgepipe_http_request_seconds histogram\n";
    for (const auto& c : http_->source_counters()) {
      const std::string l = "source=\"" + c->source + "\"";
      metric(o, "http_polls_total", l, c->polls.get());
      metric(o, "http_responses_total", l + ",class=\"2xx\"", c->responses_2xx.get());
      metric(o, "http_responses_total", l + ",class=\"304\"", c->responses_304.get());
      metric(o, "http_responses_total", l + ",class=\"429\"", c->responses_429.get());
      metric(o, "http_responses_total", l + ",class=\"4xx\"", c->responses_4xx.get());
      metric(o, "http_responses_total", l + ",class=\"5xx\"", c->responses_5xx.get());
      metric(o, "http_transport_errors_total", l, c->transport_errors.get());
      metric(o, "http_truncated_total", l, c->truncated.get());
      metric(o, "http_oversized_total", l, c->oversized.get());
      metric(o, "http_bytes_total", l, c->bytes.get());
      metric(o, "http_retries_scheduled_total", l, c->retries_scheduled.get());
      const auto lat = c->latency_ns.read();
      if (lat.total() > 0) histogram(o, "http_request_seconds", l, lat);
    }
    metric(o, "capture_frames_total", "", http_->captured_frames());
  }
  return o.str();
}

std::string pipeline::not_ready_reason() const {
  if (threads_.empty()) return "not started";
  if (finished()) return "stopped";
  if (stop_.load(std::memory_order_relaxed)) return "draining";
  return {};
}

}  // namespace edgepipe
