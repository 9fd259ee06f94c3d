#include "stages/sources/replay_source.hpp"

#include <time.h>

#include <filesystem>

#include "platform/clock.hpp"
#include "platform/log.hpp"

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
  std::error_code size_error;
  trace_bytes_ = std::filesystem::file_size(config_.trace, size_error);
  if (size_error) trace_bytes_ = 0;
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

void replay_source::ship(bool give_back_last) {
  if (batch_->empty()) return;
  // Paced, every hand-off reads little ahead next, also when the source woke late and shipped
  // through run() (a 256 KiB re-read per payload there raised the paced p50 by half).
  reader_.take_window(batch_->arena(), give_back_last, /*read_little_next=*/config_.speed > 0);
  counters_.batches_in.add();
  counters_.bytes_out.add(batch_->bytes());
  counters_.records_out.add(batch_->payloads().size());
  if (!output_.push(batch_)) pool_.release(batch_);
  batch_ = pool_.acquire();
}

bool replay_source::pace(std::int64_t frame_ns) {
  if (config_.speed <= 0 || frame_ns == 0) return false;
  if (first_frame_ns_ == 0) {
    first_frame_ns_ = frame_ns;
    start_mono_ns_ = mono_now_ns();
    return false;
  }
  const double offset = static_cast<double>(frame_ns - first_frame_ns_) / config_.speed;
  const std::uint64_t due = start_mono_ns_ + static_cast<std::uint64_t>(offset > 0 ? offset : 0);
  if (mono_now_ns() >= due) return false;
  // Whatever is ready goes now, not after the wait; this frame is not part of it.
  const bool shipped = !batch_->empty();
  ship(true);
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
  return shipped;
}

void replay_source::run() {
  batch_ = pool_.acquire();
  // The window is full while this batch's bodies are in it: the batch takes it.
  reader_.enable_handoff(config_.window_bytes, kPayloadPadding, [this] { ship(); });
  constexpr std::size_t kCheapReread = std::size_t{64} << 10;
  trace_frame f;
  while (!stop_.load(std::memory_order_relaxed) && reader_.next(f)) {
    if (pace(f.received_unix_ns)) continue;  // the frame comes again, from the new window
    source_id id = forced_;
    if (id == kUnknownSource) {
      id = resolve(f.source);
      if (id == kUnknownSource) unknown_sources_.add();  // the transform dead-letters it
    }
    const std::uint64_t now_mono = mono_now_ns();
    const std::int64_t received = f.received_unix_ns != 0 ? f.received_unix_ns : unix_now_ns();
    counters_.records_in.add();
    counters_.bytes_in.add(f.body.size());
    bytes_read_.add(reader_.kind() == trace_kind::frames
                        ? kTraceFrameHeaderBytes + f.source.size() + f.body.size()
                        : f.body.size() + 1);
    position_unix_ms_.set(static_cast<std::uint64_t>(received / 1'000'000));
    const std::size_t at = reader_.keep(f.body, kPayloadPadding);
    batch_->add_in_place(at, f.body.size(), id, f.http_status, received, now_mono);
    // A full batch (batch_payloads), or an idle transform, gets what is ready, unless that
    // would mean reading again more than this batch holds (tiny payloads: wait until more of
    // the read-ahead is used; the window bounds the batch anyway).
    const std::size_t reread = reader_.unread_window_bytes();
    const bool cheap = reread <= kCheapReread || reread <= batch_->bytes();
    if (cheap && (batch_->payloads().size() >= config_.batch_payloads || output_.empty_hint()))
      ship();
  }
  // next() is false at the end of the trace and on a read error: only the first is the end.
  if (!reader_.error().empty() && !stop_.load(std::memory_order_relaxed)) {
    failure_ = "replay: cannot read " + config_.trace + ": " + reader_.error() + " (errno " +
               std::to_string(reader_.error_code()) + "); the frames before it are delivered, " +
               "the rest of the trace is not";
    log_line(log_level::error, "replay", failure_);
  }
  ship();
  pool_.release(batch_);
  batch_ = nullptr;
  output_.close();
}

}  // namespace edgepipe
