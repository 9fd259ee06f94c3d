// The spool's settings as plain data ([spool] in the TOML; docs/durability.md explains each).
// Defaults come from the schema table (config/config_schema.hpp), the only place they are written.
#pragma once

#include <cstdint>
#include <string>

#include "config/config_schema.hpp"

namespace edgepipe {

/// When the spool calls fdatasync, and therefore what "received" survives (docs/durability.md).
enum class fsync_policy {
  every_batch,  // each group of batches is synced before any sink sees it
  interval,     // synced every fsync_interval_ms; sinks see only synced records
  off,          // never synced by us (kernel writeback); survives kill -9, not a power cut
};

/// What happens when the spool reaches max_bytes.
enum class full_policy {
  block,        // stop taking batches: the rings fill and the sources wait
  drop_oldest,  // delete the oldest segment even if unconfirmed; every record counted and logged
};

struct spool_config {
  std::string dir;  // "" = no spool: sinks are fed straight from memory (nothing survives a crash)
  fsync_policy fsync = fsync_policy::interval;
  std::uint64_t fsync_interval_ms = schema::default_uint("spool", "fsync_interval");
  std::uint64_t segment_bytes = schema::default_uint("spool", "segment_bytes");
  std::uint64_t max_bytes = schema::default_uint("spool", "max_bytes");
  full_policy on_full = full_policy::block;
  std::uint64_t retry_backoff_ms = schema::default_uint("spool", "retry_backoff");
  std::uint64_t retry_backoff_max_ms = schema::default_uint("spool", "retry_backoff_max");
  std::uint64_t ledger_interval_ms = schema::default_uint("spool", "ledger_interval");
  bool direct_io = schema::default_bool("spool", "direct_io");  // O_DIRECT segment writes
  // The newest batches kept in memory, so a sink that keeps up never reads the disk back.
  std::uint64_t memory_bytes = schema::default_uint("spool", "memory_bytes");
  // io_uring buffers of each segment writer (allocated on demand, trimmed when idle).
  std::uint64_t write_buffer_bytes = schema::default_uint("spool", "write_buffer_bytes");
  bool enabled() const { return !dir.empty(); }
};

}  // namespace edgepipe
