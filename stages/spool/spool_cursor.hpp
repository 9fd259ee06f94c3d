// A sink's reading end of the spool: reads frames in id order from the segment files (pread of
// large chunks, so the page cache serves most of it) and decodes them into a record batch the
// caller owns. Only committed records are returned. Ids that no longer exist (a dropped segment,
// a gap left by a cut tail, a frame that fails its CRC) are reported as skipped, so the caller
// can count them and move its watermark past them.
// After a disk error the spool appends the records that were not durable again, with the same
// ids, maybe at other places (spool::cut_unpublished): the cursor then finds its place again by
// id, so records it has passed are not read twice and none after it is taken for a gap.
// Threading: one cursor per sink thread (or per `edgepipe spool replay`); it reads the spool's
// segment list under the spool's mutex when it changes segment, never per frame.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "stages/spool/spool.hpp"

namespace edgepipe {

/// Where a frame lives, so a sink can go back to it after a failure without a scan.
struct spool_frame_position {
  std::uint64_t segment_first_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t first_id = 0;
  std::uint32_t records = 0;
};

// unused: ids leased by a run that did not stop cleanly and never given (spool_id_lease).
enum class skip_reason { none, gap, corrupt, dropped, unused };

class spool_cursor {
 public:
  /// `sources`: the running pipeline's source names; segments' own tables are mapped onto them.
  spool_cursor(const spool& s, std::vector<std::string> sources);
  ~spool_cursor();
  spool_cursor(const spool_cursor&) = delete;
  spool_cursor& operator=(const spool_cursor&) = delete;

  /// Next read starts at record `id` (the frame holding it; records before it are left out).
  void seek(std::uint64_t id);
  /// Goes straight back to a frame returned earlier.
  void seek(const spool_frame_position& pos);
  /// The frame at `pos` (of `frame_bytes`) was taken from elsewhere (the memory tail): go on
  /// after it, keeping the open segment and its buffer when it is the same one.
  void step_over(const spool_frame_position& pos, std::uint64_t frame_bytes);
  std::uint64_t position() const noexcept { return position_; }

  enum class result { frame, none, skipped };
  /// Reads the next frame with ids below `limit` (the committed end) into `out`.
  /// frame: `out` and `pos` are filled. skipped: ids [pos.first_id, position()) do not exist
  /// any more (`reason` says why). none: nothing to read yet.
  result next(std::uint64_t limit, record_batch& out, spool_frame_position& pos,
              skip_reason& reason);

  std::uint64_t corrupt_frames() const noexcept { return corrupt_frames_; }
  const std::string& last_error() const noexcept { return error_; }

 private:
  bool open_segment(const spool_segment& seg);
  void close_segment();
  /// Ensures the buffer holds [offset_, offset_ + n) if the file has it. False at end of file.
  bool load(std::size_t n);
  /// Whether the segment file holds `n` bytes from offset_: a frame header read from disk may
  /// claim up to kMaxFrameBodyBytes (a torn or corrupt tail), and loading that many bytes
  /// would allocate them. One fstat, only for a frame that runs past the bytes loaded.
  bool file_holds(std::size_t n) const;
  /// pread until `want` bytes or the end of the file; returns the bytes read.
  std::size_t read_at(std::uint64_t offset, char* dst, std::size_t want);
  result skip_to(std::uint64_t id, skip_reason why, spool_frame_position& pos, skip_reason& reason);
  result leave_segment(bool corrupt, spool_frame_position& pos, skip_reason& reason);

  const spool& spool_;
  std::vector<std::string> sources_;
  std::vector<source_id> source_map_;
  int fd_ = -1;
  spool_segment segment_;
  std::uint64_t header_bytes_ = 0;
  std::uint64_t offset_ = 0;  // file offset of the next frame
  std::uint64_t position_ = 0;
  byte_arena buf_;
  std::string head_;                   // the open segment's header bytes
  std::uint64_t buf_file_offset_ = 0;  // file offset of buf_.data()
  // The committed end when buf_ was read. The active segment's last block is rewritten as it
  // grows (direct I/O pads it with zeros), so bytes read under an older limit may be stale.
  std::uint64_t buf_limit_ = 0;
  std::uint64_t limit_ = 0;  // of the next() call in progress
  std::uint64_t corrupt_frames_ = 0;
  /// The spool's layout generation this cursor's place (fd_, offset_) belongs to.
  std::uint64_t layout_seen_ = 0;
  /// Whether the spool's tail was rewritten since (spool::cut_unpublished): what looks like a
  /// gap or a bad frame may only be the old layout; next() finds its place again by id.
  bool layout_changed() const noexcept { return spool_.layout_generation() != layout_seen_; }
  std::string error_;
};

}  // namespace edgepipe
