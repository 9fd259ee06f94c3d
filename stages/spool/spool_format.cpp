#include "stages/spool/spool_format.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/crc32.hpp"
#include "platform/clock.hpp"

namespace edgepipe::spool_format {

namespace {

template <class T>
void put(byte_arena& out, T v) {
  out.append(&v, sizeof v);
}

template <class T>
T get(const char* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void put_at(char* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

void encode_segment_header(const segment_header& h, byte_arena& out) {
  const std::size_t start = out.size();
  out.append(kSegmentMagic);
  put<std::uint32_t>(out, kVersion);
  put<std::uint32_t>(out, 0);  // header_bytes, patched below
  put<std::uint64_t>(out, h.first_record_id);
  put<std::int64_t>(out, h.created_unix_ns);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(h.sources.size()));
  for (const std::string& s : h.sources) {
    const auto len = static_cast<std::uint16_t>(s.size() < 0xffff ? s.size() : 0xffff);
    put<std::uint16_t>(out, len);
    out.append(s.data(), len);
  }
  const auto total = static_cast<std::uint32_t>(out.size() - start + sizeof(std::uint32_t));
  put_at<std::uint32_t>(out.data() + start + 12, total);
  put<std::uint32_t>(out, edgepipe::crc32(0, out.data() + start, out.size() - start));
}

std::size_t segment_header_size(std::string_view prefix) noexcept {
  if (prefix.size() < 16 || prefix.substr(0, 8) != kSegmentMagic) return 0;
  return get<std::uint32_t>(prefix.data() + 12);
}

std::optional<segment_header> parse_segment_header(std::string_view bytes) {
  constexpr std::size_t kFixed = 8 + 4 + 4 + 8 + 8 + 4;
  if (bytes.size() < kFixed + 4 || bytes.substr(0, 8) != kSegmentMagic) return std::nullopt;
  const char* p = bytes.data();
  const auto version = get<std::uint32_t>(p + 8);
  if (version < kOldestReadableVersion || version > kVersion) return std::nullopt;
  const std::size_t total = segment_header_size(bytes);
  if (total < kFixed + 4 || total > bytes.size()) return std::nullopt;
  if (edgepipe::crc32(0, p, total - 4) != get<std::uint32_t>(p + total - 4)) return std::nullopt;
  segment_header h;
  h.header_bytes = static_cast<std::uint32_t>(total);
  h.first_record_id = get<std::uint64_t>(p + 16);
  h.created_unix_ns = get<std::int64_t>(p + 24);
  const auto count = get<std::uint32_t>(p + 32);
  std::size_t at = kFixed;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (at + 2 > total - 4) return std::nullopt;
    const auto len = get<std::uint16_t>(p + at);
    at += 2;
    if (at + len > total - 4) return std::nullopt;
    h.sources.emplace_back(p + at, len);
    at += len;
  }
  return h;
}

std::string segment_file_name(std::uint64_t first_record_id) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(first_record_id));
  return std::string(name) + std::string(kSegmentSuffix);
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != 20 + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix))
    return std::nullopt;
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + 20, id);
  if (ec != std::errc() || end != name.data() + 20) return std::nullopt;
  return id;
}

std::size_t encode_frame_prefix(const record_batch& batch, std::uint64_t first_record_id,
                                byte_arena& out) {
  const auto& records = batch.records();
  const std::size_t table = records.size() * kRecordEntryBytes;
  const std::size_t body = table + batch.arena().size();
  const std::size_t start = out.size();
  char* p = out.prepare(kFrameHeaderBytes + table);
  put_at<std::uint32_t>(p, kFrameMagic);
  put_at<std::uint32_t>(p + 8, static_cast<std::uint32_t>(body));
  put_at<std::uint32_t>(p + 12, static_cast<std::uint32_t>(records.size()));
  put_at<std::uint64_t>(p + 16, first_record_id);
  char* e = p + kFrameHeaderBytes;
  for (const record& r : records) {
    put_at<std::uint32_t>(e, r.key_offset);
    put_at<std::uint32_t>(e + 4, r.key_length);
    put_at<std::uint32_t>(e + 8, r.value_offset);
    put_at<std::uint32_t>(e + 12, r.value_length);
    put_at<std::int64_t>(e + 16, r.event_time_ms);
    put_at<std::int64_t>(e + 24, r.ingest_unix_ns);
    put_at<std::uint16_t>(e + 32, r.source);
    put_at<std::uint16_t>(e + 34, r.flags);
    put_at<std::uint32_t>(e + 36, r.stream);
    e += kRecordEntryBytes;
  }
  std::uint32_t crc = edgepipe::crc32(0, p + 8, kFrameHeaderBytes - 8 + table);
  crc = edgepipe::crc32(crc, batch.arena().data(), batch.arena().size());
  put_at<std::uint32_t>(p + 4, crc);
  out.commit(kFrameHeaderBytes + table);
  (void)start;
  return kFrameHeaderBytes + body;
}

frame_check check_frame(std::string_view bytes, frame_header& h) noexcept {
  if (bytes.size() < kFrameHeaderBytes) return frame_check::need_more;
  const char* p = bytes.data();
  if (get<std::uint32_t>(p) != kFrameMagic) return frame_check::bad;
  h.crc = get<std::uint32_t>(p + 4);
  h.body_bytes = get<std::uint32_t>(p + 8);
  h.record_count = get<std::uint32_t>(p + 12);
  h.first_record_id = get<std::uint64_t>(p + 16);
  if (h.body_bytes > kMaxFrameBodyBytes ||
      std::uint64_t{h.record_count} * kRecordEntryBytes > h.body_bytes)
    return frame_check::bad;
  if (bytes.size() < kFrameHeaderBytes + h.body_bytes) return frame_check::need_more;
  if (edgepipe::crc32(0, p + 8, kFrameHeaderBytes - 8 + h.body_bytes) != h.crc)
    return frame_check::bad;
  return frame_check::ok;
}

void decode_frame(std::string_view frame, const frame_header& h,
                  const std::vector<source_id>& source_map, record_batch& out) {
  out.clear();
  const char* table = frame.data() + kFrameHeaderBytes;
  const std::size_t table_bytes = std::size_t{h.record_count} * kRecordEntryBytes;
  const std::size_t arena_bytes = h.body_bytes - table_bytes;
  out.arena().append(table + table_bytes, arena_bytes);
  const std::int64_t unix_now = unix_now_ns();
  const std::uint64_t mono_now = mono_now_ns();
  auto& records = out.records();
  records.resize(h.record_count);
  const char* e = table;
  for (std::uint32_t i = 0; i < h.record_count; ++i, e += kRecordEntryBytes) {
    record& r = records[i];
    r.key_offset = get<std::uint32_t>(e);
    r.key_length = get<std::uint32_t>(e + 4);
    r.value_offset = get<std::uint32_t>(e + 8);
    r.value_length = get<std::uint32_t>(e + 12);
    // A CRC-valid frame was written by us; still, never let an offset point outside the arena.
    if (std::uint64_t{r.key_offset} + r.key_length > arena_bytes) r.key_offset = r.key_length = 0;
    if (std::uint64_t{r.value_offset} + r.value_length > arena_bytes)
      r.value_offset = r.value_length = 0;
    r.event_time_ms = get<std::int64_t>(e + 16);
    r.ingest_unix_ns = get<std::int64_t>(e + 24);
    const auto src = get<std::uint16_t>(e + 32);
    r.source = src < source_map.size() ? source_map[src] : kUnknownSource;
    r.flags = get<std::uint16_t>(e + 34);
    r.stream = get<std::uint32_t>(e + 36);  // record_batch::stream() bounds-checks it
    r.sequence = h.first_record_id + i;
    const std::int64_t age = unix_now - r.ingest_unix_ns;
    r.ingest_mono_ns = age > 0 && static_cast<std::uint64_t>(age) < mono_now
                           ? mono_now - static_cast<std::uint64_t>(age)
                           : mono_now;
  }
}

}  // namespace edgepipe::spool_format
