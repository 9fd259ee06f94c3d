// The record model: a record is a key and a JSON value living in its batch's arena, plus its
// source, event time, ingest time and sequence number. Plain data, 48 bytes, no heap.
#pragma once

#include <cstdint>

namespace edgepipe {

using source_id = std::uint16_t;
inline constexpr source_id kUnknownSource = 0xffff;

struct record {
  std::uint32_t key_offset = 0;  // into the batch arena
  std::uint32_t key_length = 0;  // 0 = no key
  std::uint32_t value_offset = 0;
  std::uint32_t value_length = 0;
  std::int64_t event_time_ms = 0;    // Unix ms: from the payload (event_time pointer) or receipt
  std::int64_t ingest_unix_ns = 0;   // wall clock when the payload was received
  std::uint64_t ingest_mono_ns = 0;  // monotonic clock of receipt, for latency histograms
  std::uint64_t sequence = 0;        // per-pipeline, increasing
  source_id source = kUnknownSource;
  std::uint16_t flags = 0;
};

}  // namespace edgepipe
