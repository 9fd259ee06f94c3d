// The spool's id lease: `<dir>/ids.lease` says, durably, "record ids below L may have been given
// out". The sinks see records once they are written, before the group commit syncs them
// (docs/durability.md), so a power cut can take from the spool records a sink already has. Were
// the restarted spool to give their ids to new records, a sink that derives identity from the id
// (MongoDB's `_id`, the file sink's records_end, exactly-once Kafka's watermark) would take a new
// record for one it holds and skip it. So ids are leased ahead of use, kSpan at a time, and a
// spool that restarts after a crash starts at L: the ids between its last durable record and L
// are never used (a gap the cursors step over, skip_reason::unused). A clean stop writes L = the
// next id, so a clean restart leaves no gap.
// Each lease write is atomic and durable (temp file, fdatasync, rename, directory fsync:
// io/file_ops), a few milliseconds, once per kSpan ids (16M: every few seconds at full speed).
// Threading: the spool thread (and open(), before any thread starts).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.hpp"
#include "io/file_ops.hpp"

namespace edgepipe {

class spool_id_lease {
 public:
  static constexpr std::uint64_t kSpan = std::uint64_t{1} << 24;
  static constexpr const char* kFileName = "ids.lease";

  /// Reads `<dir>/ids.lease`: ids below the returned value may have been used (0: no lease).
  /// A malformed file is an error (the spool cannot know which ids are free).
  status open(const std::string& dir, std::uint64_t& floor);
  /// Ids below `end` are leased from now on, durably (waited for).
  status grant(std::uint64_t end);
  /// Before ids up to `end` are used: grants end + kSpan when the lease does not reach `end`.
  status ensure(std::uint64_t end) { return end <= leased_ ? status::ok() : grant(end + kSpan); }
  std::uint64_t leased_end() const noexcept { return leased_; }
  /// Ids [from, to) were leased and never used (a restart after an unclean stop). Kept in the
  /// file (the newest kMaxUnused ranges) from the next grant() on: recovery ends a segment
  /// before such a range, and the cursors step over it without counting a loss.
  void add_unused(std::uint64_t from, std::uint64_t to);
  bool unused(std::uint64_t from, std::uint64_t to) const noexcept;
  /// The start of the first unused range that begins in (after, before], or `before`.
  std::uint64_t unused_start_in(std::uint64_t after, std::uint64_t before) const noexcept;
  static constexpr std::size_t kMaxUnused = 16;
  std::uint64_t grants() const noexcept { return grants_; }
  void set_file_ops(file_ops& ops) noexcept { ops_ = &ops; }

 private:
  file_ops* ops_ = &file_ops::posix();
  std::string dir_, path_, tmp_;
  std::uint64_t leased_ = 0;
  std::uint64_t grants_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> unused_;
};

}  // namespace edgepipe
