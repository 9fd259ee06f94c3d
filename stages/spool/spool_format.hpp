// The spool's on-disk format (docs/durability.md): a directory of segment files named by the id
// of their first record (`00000000000000000042.seg`), each a header then frames. A frame is one
// record batch as the transform produced it: a 24-byte header with a CRC-32 over the rest of the
// frame, a table of 40-byte record entries, then the batch's arena bytes (keys and values).
// Little-endian, like every machine edgepipe targets.
//
//   segment header: "EPSPOOL1" | u32 version | u32 header_bytes | u64 first_record_id
//                   | i64 created_unix_ns | u32 source_count | source_count x (u16 len, bytes)
//                   | u32 crc32(all of the above)
//   frame:          u32 magic "EPSF" | u32 crc32(bytes 8.. of the frame) | u32 body_bytes
//                   | u32 record_count | u64 first_record_id | record entries | arena bytes
//   record entry:   u32 key_offset, key_length, value_offset, value_length | i64 event_time_ms
//                   | i64 ingest_unix_ns | u16 source | u16 flags | u32 stream
//
// Version 2 gave the entry's last u32 (reserved, always 0, in version 1) to record::stream: 0, or
// 1 + the arena offset of the record's stream name (u16 length, bytes), so a postgres_cdc event's
// topic travels inside its frame. Version 1 segments are still read (every stream 0).
// Record ids are the spool's own sequence: contiguous within a frame, increasing across frames
// and segments, never reused across restarts. They are what sinks acknowledge.
// Threading: plain functions, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.hpp"
#include "core/byte_arena.hpp"

namespace edgepipe::spool_format {

inline constexpr std::string_view kSegmentMagic = "EPSPOOL1";
inline constexpr std::uint32_t kVersion = 2;
inline constexpr std::uint32_t kOldestReadableVersion = 1;
inline constexpr std::uint32_t kFrameMagic = 0x46535045;  // "EPSF"
/// True when `bytes` starts with a zero frame magic: the zero padding a direct-I/O write leaves
/// after the last frame (the end of what was written), not a damaged frame.
inline bool at_padding(std::string_view bytes) noexcept {
  return bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0 && bytes[3] == 0;
}
inline constexpr std::size_t kFrameHeaderBytes = 24;
inline constexpr std::size_t kRecordEntryBytes = 40;
inline constexpr std::uint32_t kMaxFrameBodyBytes = 1u << 30;
inline constexpr std::string_view kSegmentSuffix = ".seg";

struct segment_header {
  std::uint64_t first_record_id = 0;
  std::int64_t created_unix_ns = 0;
  std::vector<std::string> sources;  // record.source indexes this table
  std::uint32_t header_bytes = 0;    // filled by parse
};

/// Appends the encoded header to `out`.
void encode_segment_header(const segment_header& h, byte_arena& out);
/// nullopt when `bytes` does not start with a complete, valid header.
std::optional<segment_header> parse_segment_header(std::string_view bytes);
/// The size a segment header declares for itself, from its first 16 bytes; 0 when `prefix` is
/// too short or does not start like a segment header. Lets a reader fetch exactly the header.
std::size_t segment_header_size(std::string_view prefix) noexcept;

/// "00000000000000000042.seg"
std::string segment_file_name(std::uint64_t first_record_id);
/// The first record id from a segment file name; nullopt for other files.
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);

struct frame_header {
  std::uint32_t crc = 0;
  std::uint32_t body_bytes = 0;
  std::uint32_t record_count = 0;
  std::uint64_t first_record_id = 0;
};

/// Encodes the header and record table of `batch` (record ids first_record_id...) into `out`;
/// the frame is complete once the batch's arena bytes follow. Returns the frame's total size.
std::size_t encode_frame_prefix(const record_batch& batch, std::uint64_t first_record_id,
                                byte_arena& out);

enum class frame_check { ok, need_more, bad };
/// Checks the frame at the start of `bytes`: magic, sizes and CRC. On ok, `h` is filled and the
/// frame is kFrameHeaderBytes + h.body_bytes long.
frame_check check_frame(std::string_view bytes, frame_header& h) noexcept;

/// Decodes a checked frame into `out` (cleared first). Sources are mapped through `source_map`
/// (segment-local index -> pipeline index; kUnknownSource when missing). Records' sequence =
/// their spool record id; ingest_mono_ns is derived from ingest_unix_ns and the clocks now.
void decode_frame(std::string_view frame, const frame_header& h,
                  const std::vector<source_id>& source_map, record_batch& out);

}  // namespace edgepipe::spool_format
