#include "stages/pipeline/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "platform/thread.hpp"
#include "stages/sinks/file/file_sink.hpp"
#include "stages/sinks/sink_factory.hpp"
#include "stages/spool/spool_newest_record.hpp"

namespace edgepipe {

pipeline::pipeline(pipeline_config config)
    : config_(std::move(config)),
      trimmer_(config_.idle_trim_ms * 1'000'000, payload_pool_, record_pool_) {
  payload_pool_.set_max_free_bytes(config_.pool_bytes);
  record_pool_.set_max_free_bytes(config_.pool_bytes);
}

pipeline::~pipeline() {
  request_stop();
  join();
}

status pipeline::build() {
  const bool has_cdc = std::any_of(config_.sources.begin(), config_.sources.end(),
                                   [](const source_spec& s) { return s.cdc.has_value(); });
  if (!config_.replay && !config_.has_http_sources() && !has_cdc)
    return status::error(config_.origin +
                         ": nothing to run: no [replay] trace, no source with a 'url' and no "
                         "postgres_cdc source (use `edgepipe replay --trace PATH`, add [replay] "
                         "trace = \"...\", or give a source a url)");
  if (has_cdc && !config_.spool.enabled())
    return status::error(config_.origin +
                         ": a postgres_cdc source needs a spool ([spool] dir, not --spool none)");
  std::vector<transform_program> programs;
  for (const auto& spec : config_.sources) {
    transform_program p;
    // A postgres_cdc source has no transform (its records skip it): a placeholder program keeps
    // the source ids aligned with the programs.
    source_spec plain;
    plain.name = spec.name;
    field_spec placeholder;
    placeholder.name = "postgres_cdc";
    placeholder.constant = literal_value{literal_value::kind::null, {}};
    plain.fields.push_back(std::move(placeholder));
    if (status s = transform_program::compile(spec.cdc ? plain : spec, p); !s)
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
    sink_names.reserve(config_.sinks.size());
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
    spool_stage_->set_idle_trim(config_.idle_trim_ms * 1'000'000);
    spool_stage_->set_full_batch(config_.batch_records, config_.batch_bytes);
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
  dl.fsync = true;  // a dead letter is the only copy of its record: synced before it counts
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
    rc.window_bytes = config_.replay_window_bytes;
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
  for (std::size_t i = 0; i < config_.sources.size(); ++i) {
    const source_spec& spec = config_.sources[i];
    if (!spec.cdc) continue;
    // What counts as durable for a confirmation to PostgreSQL (docs/cdc.md): synced in the
    // spool or confirmed by every sink; with fsync = off (nothing synced) only the latter. The
    // sinks see records before they are synced: this, not what they see, gates the LSN.
    const spool* sp = spool_.get();
    std::function<std::uint64_t()> durable_end;
    if (config_.spool.fsync == fsync_policy::off)
      durable_end = [sp] { return sp->confirmed_by_all(); };
    else
      durable_end = [sp] { return std::max(sp->durable_end(), sp->confirmed_by_all()); };
    // The newest change of this source the spool holds: what the slot sends again up to it
    // is not handed on twice (resend_filter.hpp).
    std::optional<pgcdc::resume_position> resume;
    std::string newest;
    bool found = false;
    if (status st = newest_record_value(
            *sp, spec.name,
            [](std::string_view v) { return pgcdc::position_of_event(v).has_value(); }, newest,
            found);
        !st) {
      return status::error(config_.origin + ": sources." + spec.name + ": " + st.message());
    }
    if (found) {
      resume = pgcdc::position_of_event(newest);
      log_line(log_level::info, "src:" + spec.name,
               "the spool holds changes up to LSN " + pgcdc::format_lsn(resume->lsn) + " (txId " +
                   std::to_string(resume->xid) +
                   "): what the slot sends again up to there is skipped");
    }
    cdc_.push_back(std::make_unique<pgcdc::postgres_cdc_stage>(
        spec.name, static_cast<source_id>(i), *spec.cdc, config_.batch_bytes, config_.ring_capacity,
        &transform_input_waiter_, record_pool_, registry_.add("source:" + spec.name),
        std::move(durable_end),
        // A snapshot cut short is taken again (snapshot_marker.hpp): the marker lives with the
        // spool that makes the snapshot's events durable.
        (std::filesystem::path(config_.spool.dir) / (spec.name + ".cdc-snapshot-pending")).string(),
        resume));
    transform_->add_record_input(&cdc_.back()->output());
  }
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
  // The sinks' start-up (the file sink's first ledger write) before the first records arrive.
  const auto ready_by = std::chrono::steady_clock::now() + sink_stage::kStartWait;
  for (auto& s : sinks_) {
    const auto left = ready_by - std::chrono::steady_clock::now();
    if (left.count() > 0) (void)s->wait_ready(left);
  }
  sources_started_ = std::chrono::steady_clock::now();
  sources_started_cpu_ns_ = process_cpu_ns();
  if (spool_stage_) launch("spool", std::nullopt, [s = spool_stage_.get()] { s->run(); });
  launch("transform", config_.transform_cpu, [t = transform_.get()] { t->run(); });
  if (replay_) launch("src:replay", config_.source_cpu, [s = replay_.get()] { s->run(); });
  if (http_) launch("src:http", config_.source_cpu, [s = http_.get()] { s->run(); });
  for (auto& c : cdc_) launch("src:pgcdc", config_.source_cpu, [s = c.get()] { s->run(); });
  trimmer_.start();
}

void pipeline::request_stop() noexcept {
  stop_.store(true, std::memory_order_relaxed);
  if (http_) http_->request_stop();
  for (auto& c : cdc_) c->request_stop();
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
  trimmer_.stop();
  // A clean end with everything confirmed leaves an empty spool.
  if (spool_ && spool_->writing_finished()) (void)spool_->delete_confirmed_segments(true);
}

std::string pipeline::failure() const {
  if (replay_ && !replay_->failure().empty()) return replay_->failure();
  for (const auto& c : cdc_)  // a postgres_cdc source that stopped on an error it does not retry
    if (!c->last_error().empty()) return "sources." + c->name() + ": " + c->last_error();
  return {};
}

}  // namespace edgepipe
