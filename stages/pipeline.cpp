#include "stages/pipeline.hpp"

#include <sstream>

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
  if (!config_.replay)
    return status::error(config_.origin +
                         ": nothing to run: no [replay] trace configured (use `edgepipe replay "
                         "--trace PATH`, or add [replay] trace = \"...\")");
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
  for (const auto& sc : config_.sinks) {
    auto s = make_sink(config_, sc, source_names_);
    if (status st = s->open(); !st) return st;
    sinks_.push_back(std::make_unique<sink_stage>(std::move(s), config_.ring_capacity,
                                                  record_pool_, registry_.add("sink:" + sc.name)));
    outputs.push_back(&sinks_.back()->input());
  }
  file_sink_config dl;
  dl.path = config_.dead_letter.path;
  dl.rotate_bytes = config_.dead_letter.rotate_bytes;
  auto dls = std::make_unique<file_sink>("dead-letter", dl, source_names_);
  if (status st = dls->open(); !st) return st;
  dead_letters_ = std::make_unique<sink_stage>(std::move(dls), config_.ring_capacity, record_pool_,
                                               registry_.add("sink:dead-letter"));

  source_ring_ = std::make_unique<ring_edge<payload_batch*>>(config_.ring_capacity);
  stage_counters& transform_counters = registry_.add("transform");
  transform_ = std::make_unique<transform_stage>(
      *engine_, *source_ring_, payload_pool_, record_pool_, std::move(outputs),
      dead_letters_->input(), transform_counters, config_.batch_records, config_.batch_bytes);

  replay_source_config rc;
  rc.trace = config_.replay->trace;
  rc.speed = config_.replay->speed;
  rc.force_source = config_.replay->source;
  rc.max_payload_bytes = config_.max_payload_bytes;
  rc.batch_bytes = config_.batch_bytes;
  source_ = std::make_unique<replay_source>(rc, source_names_, *source_ring_, payload_pool_,
                                            registry_.add("source:replay"), stop_);
  return source_->open();
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
    launch("sink:" + config_.sinks[i].name, config_.sinks[i].cpu, [s = sinks_[i].get()] { s->run(); });
  launch("sink:dead-lettr", std::nullopt, [s = dead_letters_.get()] { s->run(); });
  launch("transform", config_.transform_cpu, [t = transform_.get()] { t->run(); });
  launch("src:replay", config_.source_cpu, [s = source_.get()] { s->run(); });
}

void pipeline::request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

bool pipeline::finished() const noexcept { return running_.load() == 0; }

void pipeline::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
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
  const auto* src = registry_.find("source:replay");
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
    o << (first ? "" : ",") << "\"" << s->target().name() << "\":" << s->counters().records_out.get();
    failed << (first ? "" : ",") << "\"" << s->target().name() << "\":" << s->counters().failed.get();
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
              seconds > 0 ? static_cast<double>(src->bytes_in.get()) / 1e6 / seconds : 0);
  o << ",\"latency_us\":{\"p50\":" << latency.quantile(0.5) / 1000
    << ",\"p99\":" << latency.quantile(0.99) / 1000
    << ",\"max\":" << latency.quantile(1.0) / 1000 << "}";
  const auto& tc = source_->reader().counters();
  o << ",\"trace\":{\"frames\":" << tc.frames << ",\"corrupt_frames\":" << tc.corrupt_frames
    << ",\"torn_tail_bytes\":" << tc.torn_tail_bytes << ",\"oversized\":" << tc.oversized
    << ",\"unknown_source\":" << source_->unknown_source_payloads() << "}";
  o << ",\"ring_stalls\":" << source_ring_->stalls() + transform_->output_stalls() << "}";
  return o.str();
}

std::string pipeline::counters_report() const {
  std::ostringstream o;
  registry_.for_each([&](const stage_counters& s) {
    const auto lat = s.latency_ns.read();
    o << "{\"stage\":\"" << s.name << "\",\"batches_in\":" << s.batches_in.get()
      << ",\"records_in\":" << s.records_in.get() << ",\"records_out\":" << s.records_out.get()
      << ",\"rejected\":" << s.rejected.get() << ",\"filtered\":" << s.filtered.get()
      << ",\"failed\":" << s.failed.get() << ",\"bytes_in\":" << s.bytes_in.get()
      << ",\"bytes_out\":" << s.bytes_out.get();
    if (s.name == "source:replay") o << ",\"ring_stalls\":" << source_ring_->stalls();
    if (s.name == "transform") o << ",\"ring_stalls\":" << transform_->output_stalls();
    if (lat.total() > 0)
      o << ",\"latency_ns\":{\"p50\":" << lat.quantile(0.5) << ",\"p99\":" << lat.quantile(0.99)
        << ",\"max\":" << lat.quantile(1.0) << "}";
    o << "}\n";
  });
  return o.str();
}

}  // namespace edgepipe
