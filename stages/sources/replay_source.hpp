// Replays a captured trace (or a JSON Lines file) into the pipeline at "max" speed, at the
// original pace ("1x") or N times faster ("Nx"). Zero-copy: the bodies are never copied out of
// the file reader's window; a payload batch takes the whole window (window_bytes), bodies and the
// frame headers between them (which serve as their padding), and the reader goes on in the
// arena the batch had (reads of 512 KiB). A batch is shipped when the window is full, when pacing
// waits, and at 256 payloads or when the transform is idle, provided little was read ahead: what
// was read ahead is read again from the page cache into the next window, so tiny payloads (ISS)
// do not make us re-read a whole chunk per 256 of them. Threading: open() on the main thread;
// run() is the body of the thread "src:replay".
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/batch_pool.hpp"
#include "core/ring_edge.hpp"
#include "core/stage_counters.hpp"
#include "io/trace_format.hpp"

namespace edgepipe {

struct replay_source_config {
  std::string trace;
  double speed = 0;          // 0 = max
  std::string force_source;  // non-empty: every payload belongs to this source
  std::size_t max_payload_bytes = std::size_t{16} << 20;
  std::size_t batch_payloads = 256;
  // The read window each payload batch takes ([pipeline] replay_window_bytes).
  std::size_t window_bytes = std::size_t{2} << 20;
};

class replay_source {
 public:
  replay_source(replay_source_config config, std::vector<std::string> source_names,
                ring_edge<payload_batch*>& output, batch_pool<payload_batch>& pool,
                stage_counters& counters, const std::atomic<bool>& stop);
  /// runs on: main thread. Opens the trace so a bad path fails before threads start.
  status open();
  /// runs on: replay thread. Returns when the trace is consumed or stop is set.
  void run();
  const trace_reader& reader() const noexcept { return reader_; }
  /// After run(): why the trace was not read to its end (a read error: file, offset, errno);
  /// empty when it was (or when stopped).
  const std::string& failure() const noexcept { return failure_; }
  std::uint64_t unknown_source_payloads() const noexcept { return unknown_sources_.get(); }
  // Progress, for the status page (any thread).
  double speed() const noexcept { return config_.speed; }
  std::uint64_t trace_bytes() const noexcept { return trace_bytes_; }
  /// Bytes of the trace read so far (frame headers, sources and bodies).
  std::uint64_t bytes_read() const noexcept { return bytes_read_.get(); }
  /// Receive time (Unix ms) of the last frame handed on: where in the trace the replay is.
  std::uint64_t position_unix_ms() const noexcept { return position_unix_ms_.get(); }

 private:
  source_id resolve(std::string_view name);
  /// The batch takes the reader's window and goes to the transform; a fresh one starts.
  /// `give_back_last`: the frame last read is not in the batch and comes again from the reader.
  void ship(bool give_back_last = false);
  /// Waits until the frame is due (speed != max). True when it shipped the batch first, which
  /// gave the frame back to the reader: read it again.
  bool pace(std::int64_t frame_ns);

  replay_source_config config_;
  std::vector<std::string> source_names_;
  ring_edge<payload_batch*>& output_;
  batch_pool<payload_batch>& pool_;
  stage_counters& counters_;
  const std::atomic<bool>& stop_;
  trace_reader reader_;
  payload_batch* batch_ = nullptr;  // the batch whose bodies are in the reader's window
  source_id forced_ = kUnknownSource;
  counter unknown_sources_;
  std::uint64_t trace_bytes_ = 0;  // set by open()
  counter bytes_read_;
  gauge position_unix_ms_;
  std::int64_t first_frame_ns_ = 0;
  std::uint64_t start_mono_ns_ = 0;
  std::string failure_;  // replay thread until run() returns
};

}  // namespace edgepipe
