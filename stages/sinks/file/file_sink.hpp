// JSON Lines file sink on io_uring: records are copied into large buffers that go to the kernel
// as single writes; files rotate by size (PATH, then PATH.1, PATH.2, ... as they fill). Records
// count as delivered when the write that holds them has completed. Also used for dead letters.
// A write, flush, rotation or reopen that fails fails the records it held (counted; with a spool
// they are sent again) and the sink reopens the file after a backoff (100 ms doubling to 30 s),
// cutting off any partly written tail first, instead of staying failed for good.
// Fed from the spool, it writes each record once, even across a crash (docs/durability.md): the
// ledger keeps the file's confirmed length and the end of the record ids it holds
// (file_sink_state); on restart the file is cut back to that length (records past it, a torn
// line) and records below that id are skipped (counted as duplicates), as are records sent
// again after a rewind. Before it writes into a new file (a rotation, a reopen), the sink
// writes its ledger, so the state always names the file being written; for the file open at
// start that is done by prepare(), before the sources start.
// A path that is not a regular file (/dev/null, a terminal, a symlink to one), or that names
// one of the process's descriptors (/dev/stdout redirected to a file: see uring_file_writer),
// is written as a stream: never rotated (a rotation renames PATH: as root, the device node or
// /dev/stdout itself) and never cut back on restart or after a failure; records below the
// ledger's watermark count as written.
// A pipe is such a stream (written in order, short writes resumed); a named pipe that no process
// reads is refused at open, and a socket always is. A pipe without a name (a shell's `|`, as
// /dev/stdout) whose reader left can never be read again: the sink stops reopening it and says
// so in fault() (replay then stops; /health names it); its records stay in the spool.
// Threading: see sink.hpp.
#pragma once

#include <atomic>
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
  std::string_view ledger_state() override;
  void resume(std::string_view ledger_state) override;
  void prepare() override;
  /// Any thread: set for good once the reader of a pipe without a name left (EPIPE).
  std::string fault() const override;

 private:
  void rotate(stage_counters& counters);
  /// Records why the file cannot be written (`error`: its errno, 0 if none), closes it and
  /// schedules a reopen; none when the reader of a pipe without a name left.
  void fail(const std::string& what, int error = 0);
  /// After the backoff: cuts the file back to what was confirmed and reopens it. True when
  /// the sink can write again.
  bool try_recover();
  void append_line(const record_batch& batch, const record& r);
  /// The file just opened: its inode and confirmed size; its ledger write becomes due.
  void adopt_open_file();
  /// Writes the ledger naming the current file before the first line goes into it. False (and
  /// the sink failed) when the ledger cannot be written.
  bool record_file_in_ledger();
  /// resume(): cuts `target` back to `bytes` when it is longer.
  void cut_back(const std::string& target, std::uint64_t size, std::uint64_t bytes,
                std::uint64_t records_end);

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
  std::uint64_t good_size_ = 0;    // bytes of the current file confirmed by a completed flush
  std::uint64_t retry_at_ns_ = 0;  // when failed_: next reopen attempt (monotonic)
  std::uint64_t backoff_ms_ = 0;   // the last wait before a reopen; 0 after a good flush
  // Spool mode (a listener): records with a lower id are in the files already and are skipped.
  std::uint64_t records_end_ = 0;
  std::uint64_t pending_end_ = 0;  // one past the highest id written since the last flush
  std::uint64_t inode_ = 0;        // of the file open for writing
  bool ledger_due_ = false;        // the ledger must name the current file before a write
  bool stream_ = false;            // a device, a pipe, a descriptor: not rotated, not cut
  bool unnamed_pipe_ = false;      // a pipe on pipefs (a shell's |): no new reader can come
  std::string reader_gone_text_;   // fault() once reader_gone_ (set in open())
  std::atomic<bool> reader_gone_{false};
  char state_[128] = {};  // ledger_state()'s text
};

}  // namespace edgepipe
