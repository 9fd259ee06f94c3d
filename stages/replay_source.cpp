#include "stages/replay_source.hpp"

#include <time.h>

#include "platform/clock.hpp"

namespace edgepipe {

replay_source::replay_source(replay_source_config config, std::vector<std::string> source_names,
                             ring_edge<payload_batch*>& output, batch_pool<payload_batch>& pool,
                             stage_counters& counters, const std::atomic<bool>& stop)
    : config_(std::move(config)),
      source_names_(std::move(source_names)),
      output_(output),
      pool_(pool),
      counters_(counters),
      stop_(stop) {}

status replay_source::open() {
  if (!config_.force_source.empty()) {
    forced_ = resolve(config_.force_source);
    if (forced_ == kUnknownSource)
      return status::error("replay: --source '" + config_.force_source +
                           "' is not one of the configured sources");
  }
  if (status s = reader_.open(config_.trace, config_.max_payload_bytes); !s)
    return status::error("replay: " + s.message());
  if (reader_.kind() == trace_kind::json_lines && forced_ == kUnknownSource) {
    if (source_names_.size() == 1) {
      forced_ = 0;
    } else {
      return status::error("replay: " + config_.trace +
                           " is JSON Lines (no source per line); say which source it holds with "
                           "--source NAME (or replay.source in the config)");
    }
  }
  return status::ok();
}

source_id replay_source::resolve(std::string_view name) {
  for (std::size_t i = 0; i < source_names_.size(); ++i)
    if (source_names_[i] == name) return static_cast<source_id>(i);
  return kUnknownSource;
}

void replay_source::ship(payload_batch*& batch) {
  if (batch->empty()) return;
  counters_.batches_in.add();
  counters_.bytes_out.add(batch->bytes());
  counters_.records_out.add(batch->payloads().size());
  if (!output_.push(batch)) pool_.release(batch);
  batch = pool_.acquire();
}

void replay_source::pace(std::int64_t frame_ns, payload_batch*& batch) {
  if (config_.speed <= 0 || frame_ns == 0) return;
  if (first_frame_ns_ == 0) {
    first_frame_ns_ = frame_ns;
    start_mono_ns_ = mono_now_ns();
    return;
  }
  const double offset = static_cast<double>(frame_ns - first_frame_ns_) / config_.speed;
  const std::uint64_t due = start_mono_ns_ + static_cast<std::uint64_t>(offset > 0 ? offset : 0);
  if (mono_now_ns() >= due) return;
  ship(batch);  // whatever is ready goes now, not after the wait
  // Sleep in short slices so a stop request is honoured within ~50 ms.
  while (!stop_.load(std::memory_order_relaxed)) {
    const std::uint64_t now = mono_now_ns();
    if (now >= due) break;
    const std::uint64_t left = due - now;
    const std::uint64_t slice = left < 50'000'000 ? left : 50'000'000;
    timespec ts{static_cast<time_t>(slice / 1'000'000'000),
                static_cast<long>(slice % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
}

void replay_source::run() {
  payload_batch* batch = pool_.acquire();
  trace_frame f;
  while (!stop_.load(std::memory_order_relaxed) && reader_.next(f)) {
    pace(f.received_unix_ns, batch);
    source_id id = forced_;
    if (id == kUnknownSource) {
      id = resolve(f.source);
      if (id == kUnknownSource) unknown_sources_.add();  // the transform dead-letters it
    }
    const std::uint64_t now_mono = mono_now_ns();
    const std::int64_t received = f.received_unix_ns != 0 ? f.received_unix_ns : unix_now_ns();
    counters_.records_in.add();
    counters_.bytes_in.add(f.body.size());
    batch->add(f.body, id, f.http_status, received, now_mono);
    if (batch->bytes() >= config_.batch_bytes ||
        batch->payloads().size() >= config_.batch_payloads || output_.empty_hint())
      ship(batch);
  }
  ship(batch);
  pool_.release(batch);
  output_.close();
}

}  // namespace edgepipe
