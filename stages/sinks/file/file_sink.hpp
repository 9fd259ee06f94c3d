// JSON Lines file sink on io_uring: records are copied into large buffers that go to the kernel
// as single writes; files rotate by size (PATH, then PATH.1, PATH.2, ... as they fill). Records
// count as delivered when the write that holds them has completed. Also used for dead letters.
// Threading: see sink.hpp.
#pragma once

#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "io/uring_file_writer.hpp"
#include "stages/sinks/sink.hpp"

namespace edgepipe {

class file_sink final : public sink {
 public:
  file_sink(std::string name, file_sink_config config, std::vector<std::string> source_names);
  const std::string& name() const override { return name_; }
  status open() override;
  void write(const record_batch& batch, stage_counters& counters) override;
  void flush(stage_counters& counters) override;
  status close() override;

 private:
  void rotate(stage_counters& counters);
  void append_line(const record_batch& batch, const record& r);

  std::string name_;
  file_sink_config config_;
  std::vector<std::string> source_names_;
  uring_file_writer writer_;
  byte_arena line_;            // envelope lines are built here first
  std::uint64_t pending_ = 0;  // records written but not yet confirmed by a completed flush
  std::uint64_t pending_bytes_ = 0;
  // Record ids of the pending records, as runs of consecutive ids (spool mode).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pending_ids_;
  void settle_pending(delivery_outcome outcome);
  unsigned next_rotation_ = 1;
  bool failed_ = false;
};

}  // namespace edgepipe
