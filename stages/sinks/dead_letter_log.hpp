// The last dead letters, for the status page: a bounded ring (kKeep entries) filled on the
// dead-letter sink's thread as it writes them -- a cold path, only rejected payloads and records
// come here -- and copied out under a mutex by the HTTP thread. dead_letter_recorder is the sink
// decorator that feeds it, wrapped around the dead-letter file sink.
// Threading: add() on the dead-letter sink thread; last()/total() on any thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stages/sinks/sink.hpp"

namespace edgepipe {

struct dead_letter_entry {
  std::uint64_t number = 0;  // 1 for the first dead letter of this run
  std::string source;
  std::string reason;
  std::string received_at;  // ISO 8601, as in the dead-letter file
  std::uint64_t http_status = 0;
  std::uint64_t size = 0;  // bytes of the offending payload or record
  bool truncated = false;  // the dead-letter file holds only its first dead_letter.max_bytes
  std::string preview;     // its first kPreviewBytes, valid UTF-8 (invalid bytes replaced)
};

class dead_letter_log {
 public:
  static constexpr std::size_t kKeep = 20;
  static constexpr std::size_t kPreviewBytes = 240;

  /// runs on: dead-letter sink thread. `value`: one dead-letter record as the transform wrote
  /// it ({"reason":...,"source":...,"received_at":...,"http_status":...,"size":...,"bytes":...}).
  void add(std::string_view value);
  /// runs on: dead-letter sink thread. Counts `n` dead letters that are not kept.
  void skip(std::uint64_t n);
  /// Any thread: the kept entries, newest first.
  std::vector<dead_letter_entry> last() const;
  std::uint64_t total() const;
  /// Any thread: calls f(const dead_letter_entry&) on the kept entries, newest first, under
  /// the lock (no copies; f must be quick and must not call back into this log).
  template <class F>
  void for_each_newest_first(F&& f) const {
    std::lock_guard lock(mutex_);
    const std::uint64_t n = total_ < kKeep ? total_ : kKeep;
    for (std::uint64_t i = 0; i < n; ++i) f(ring_[(total_ - 1 - i) % kKeep]);
  }

 private:
  mutable std::mutex mutex_;
  std::array<dead_letter_entry, kKeep> ring_;
  std::uint64_t total_ = 0;
};

/// A sink that notes each record in a dead_letter_log, then hands the batch to `inner`.
class dead_letter_recorder final : public sink {
 public:
  dead_letter_recorder(std::unique_ptr<sink> inner, dead_letter_log& log)
      : inner_(std::move(inner)), log_(log) {}
  const std::string& name() const override { return inner_->name(); }
  status open() override { return inner_->open(); }
  void write(const record_batch& batch, stage_counters& counters) override;
  void flush(stage_counters& counters) override { inner_->flush(counters); }
  status close() override { return inner_->close(); }

 private:
  std::unique_ptr<sink> inner_;
  dead_letter_log& log_;
};

}  // namespace edgepipe
