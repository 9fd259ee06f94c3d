// The spool's settings as plain data ([spool] in the TOML; docs/durability.md explains each).
#pragma once

#include <cstdint>
#include <string>

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
  std::uint64_t fsync_interval_ms = 10;
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  std::uint64_t max_bytes = std::uint64_t{1} << 30;
  full_policy on_full = full_policy::block;
  std::uint64_t retry_backoff_ms = 200;
  std::uint64_t retry_backoff_max_ms = 30000;
  std::uint64_t ledger_interval_ms = 200;
  bool direct_io = true;
  // The newest batches kept in memory, so a sink that keeps up never reads the disk back.
  std::uint64_t memory_bytes =
      std::uint64_t{32}
      << 20;  // O_DIRECT segment writes (falls back to buffered where unsupported)
  bool enabled() const { return !dir.empty(); }
};

}  // namespace edgepipe
