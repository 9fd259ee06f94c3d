// The record model: a record is a key and a JSON value living in its batch's arena, plus its
// source, event time, ingest time, sequence number and, optionally, its own stream (the Kafka
// topic / MongoDB collection a postgres_cdc event goes to, `<prefix>.<schema>.<table>`): a name
// in the same arena. Plain data, 56 bytes, no heap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/assert.hpp"

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
  // 0: none (the sinks route by source). Else 1 + the arena offset of the stream name, stored
  // there as a u16 length then its bytes (record_batch::add_stream); records share it.
  std::uint32_t stream = 0;
};

static_assert(sizeof(record) == 56, "record's layout changed: update the comment above");
static_assert(alignof(record) == 8);

/// A record's offsets and lengths into its batch arena are 32-bit. That holds because a batch
/// ships once its arena passes pipeline.batch_bytes (at most 256 MiB) and one record adds at most
/// a few times max_payload_bytes (at most 1 GiB); the assert keeps it true if those limits move.
inline std::uint32_t arena_offset(std::size_t n) noexcept {
  EDGEPIPE_ASSERT(n <= UINT32_MAX, "a batch arena passed 4 GiB: record offsets are 32-bit");
  return static_cast<std::uint32_t>(n);
}

}  // namespace edgepipe
