// A sink's book of what it was given from the spool and what came back: frames in flight, each
// with the records still unanswered and those that failed. The watermark (everything below it is
// confirmed) moves only over frames whose every record was delivered, so a failure holds it back.
//
// Retry policy (go-back-N, which keeps each key in order): after a failure the sink stops
// taking new frames, waits until every record in flight has an answer, then starts again from
// the first frame that is not confirmed, after a backoff. Records that had been delivered after
// that point are sent again (counted as resent; MongoDB and the file sink recognise them and
// count them as duplicates instead of storing them twice).
// Latency: each frame keeps the receive time of its oldest record; when the last of its records
// is answered (every one delivered, e.g. its last Kafka delivery report) its records are counted
// in the latency histogram at (that time - that receive time), one clock read per frame, never
// flattering a frame's later records. That is the frame's own confirmation: the watermark may
// pass it later, once every frame before it is confirmed too (frames sent to different Kafka
// partitions are answered out of order), and that wait is not the sink's delivery latency.
// Threading: the sink thread only.
#pragma once

#include <cstdint>
#include <deque>

#include "core/latency_histogram.hpp"
#include "stages/sinks/sink.hpp"
#include "stages/spool/spool_cursor.hpp"

namespace edgepipe {

class delivery_tracker {
 public:
  /// `latency` (optional): where answered frames record payload received -> confirmed.
  explicit delivery_tracker(std::uint64_t start, latency_histogram* latency = nullptr)
      : confirmed_end_(start), latency_(latency) {}

  /// A frame handed to the sink; `oldest_ingest_mono_ns` is the monotonic receive time of its
  /// oldest record (0: unknown, no latency recorded for the frame).
  void sent(const spool_frame_position& pos, std::uint64_t oldest_ingest_mono_ns = 0);
  /// Ids that do not exist any more (gap, corrupt, dropped): settled as they are.
  void skipped(std::uint64_t first_id, std::uint64_t count);
  void settle(std::uint64_t id, delivery_outcome outcome);
  void settle_range(std::uint64_t first_id, std::uint64_t count, delivery_outcome outcome);

  /// Everything below is confirmed by the sink (or was skipped).
  std::uint64_t confirmed_end();
  bool failure_pending() const noexcept { return failed_frames_ != 0; }
  /// Records handed over without an answer yet.
  std::uint64_t unanswered() const noexcept { return unanswered_; }
  std::size_t frames() const noexcept { return frames_.size(); }
  bool empty() const noexcept { return frames_.empty(); }
  /// After a failure, once unanswered() == 0: where to start again. Forgets every frame.
  spool_frame_position rewind();

  std::uint64_t delivered() const noexcept { return delivered_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  std::uint64_t dead_lettered() const noexcept { return dead_lettered_; }
  std::uint64_t failures() const noexcept { return failures_; }
  std::uint64_t unknown_answers() const noexcept { return unknown_; }

 private:
  struct frame {
    spool_frame_position pos;
    std::uint64_t end = 0;
    std::uint32_t unanswered = 0;
    std::uint32_t failed = 0;
    std::uint64_t oldest_ingest_ns = 0;
  };
  frame* find(std::uint64_t id) noexcept;

  std::deque<frame> frames_;
  std::uint64_t confirmed_end_ = 0;
  std::uint64_t unanswered_ = 0;
  std::uint64_t failed_frames_ = 0;
  latency_histogram* latency_ = nullptr;
  std::size_t last_hit_ = 0;
  std::uint64_t delivered_ = 0, duplicates_ = 0, dead_lettered_ = 0, failures_ = 0, unknown_ = 0;
};

}  // namespace edgepipe
