#include "stages/sinks/delivery_tracker.hpp"

#include <algorithm>

#include "platform/clock.hpp"

namespace edgepipe {

void delivery_tracker::sent(const spool_frame_position& pos, std::uint64_t oldest_ingest_mono_ns) {
  frame f;
  f.pos = pos;
  f.oldest_ingest_ns = oldest_ingest_mono_ns;
  f.end = pos.first_id + pos.records;
  f.unanswered = pos.records;
  unanswered_ += pos.records;
  frames_.push_back(f);
}

void delivery_tracker::skipped(std::uint64_t first_id, std::uint64_t count) {
  frame f;
  f.pos.first_id = first_id;
  f.end = first_id + count;
  frames_.push_back(f);
}

delivery_tracker::frame* delivery_tracker::find(std::uint64_t id) noexcept {
  if (last_hit_ < frames_.size()) {
    frame& f = frames_[last_hit_];
    if (id >= f.pos.first_id && id < f.end) return &f;
  }
  auto it = std::upper_bound(frames_.begin(), frames_.end(), id,
                             [](std::uint64_t v, const frame& f) { return v < f.pos.first_id; });
  if (it == frames_.begin()) return nullptr;
  --it;
  if (id >= it->end) return nullptr;
  last_hit_ = static_cast<std::size_t>(it - frames_.begin());
  return &*it;
}

void delivery_tracker::settle(std::uint64_t id, delivery_outcome outcome) {
  frame* f = find(id);
  if (f == nullptr || f->unanswered == 0) {
    ++unknown_;
    return;
  }
  --f->unanswered;
  --unanswered_;
  switch (outcome) {
    case delivery_outcome::delivered:
      ++delivered_;
      break;
    case delivery_outcome::duplicate:
      ++duplicates_;
      break;
    case delivery_outcome::dead_lettered:
      ++dead_lettered_;
      break;
    case delivery_outcome::failed:
      ++failures_;
      if (f->failed++ == 0) ++failed_frames_;
      return;  // a frame with a failure records no latency (it is sent again)
  }
  // The frame's last answer: its records count in the latency histogram now (its own
  // confirmation, not the watermark's, which also waits for every frame before it).
  if (f->unanswered == 0 && f->failed == 0 && latency_ != nullptr && f->pos.records != 0 &&
      f->oldest_ingest_ns != 0) {
    const std::uint64_t now = mono_now_ns();
    latency_->add(now > f->oldest_ingest_ns ? now - f->oldest_ingest_ns : 0, f->pos.records);
  }
}

void delivery_tracker::settle_range(std::uint64_t first_id, std::uint64_t count,
                                    delivery_outcome outcome) {
  for (std::uint64_t i = 0; i < count; ++i) settle(first_id + i, outcome);
}

std::uint64_t delivery_tracker::confirmed_end() {
  std::size_t popped = 0;
  while (!frames_.empty() && frames_.front().unanswered == 0 && frames_.front().failed == 0) {
    const frame& f = frames_.front();
    confirmed_end_ = std::max(confirmed_end_, f.end);
    frames_.pop_front();
    ++popped;
  }
  last_hit_ = last_hit_ >= popped ? last_hit_ - popped : 0;
  return confirmed_end_;
}

spool_frame_position delivery_tracker::rewind() {
  (void)confirmed_end();
  spool_frame_position pos;
  pos.first_id = confirmed_end_;
  if (!frames_.empty()) pos = frames_.front().pos;
  // A skipped range at the front has no segment position: seek by id.
  if (pos.records == 0) pos.segment_first_id = ~std::uint64_t{0};
  frames_.clear();
  unanswered_ = 0;
  failed_frames_ = 0;
  last_hit_ = 0;
  return pos;
}

}  // namespace edgepipe
