// The two things that cross threads: payload batches (source -> transform: raw API response
// bodies, each followed by SIMDJSON-size padding so the parser reads them in place) and record
// batches (transform -> sinks: transformed records in one arena). Batches come from a pool and
// go back to it, so a running pipeline reuses the same memory.
// Threading: a batch belongs to exactly one thread between pushes; a record batch fanned out to
// several sinks is shared read-only and returned to its pool by the last release().
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/byte_arena.hpp"
#include "core/record.hpp"

namespace edgepipe {

/// Bytes of slack kept after every body: simdjson reads up to 64 bytes past the end (it never
/// interprets them). add() and finish_body() zero them; add_in_place() bodies are followed by
/// whatever the file holds next.
inline constexpr std::size_t kPayloadPadding = 64;

/// Why a payload is not a complete response (the transform dead-letters such payloads).
enum class payload_error : std::uint8_t {
  none,
  truncated,  // the connection closed before the end of the body
  too_large,  // the body went past max_body_bytes and was cut there
  timed_out,  // the request ran out of its timeout before the body was complete
};

struct payload {
  std::uint32_t body_offset = 0;
  std::uint32_t body_length = 0;
  std::int64_t received_unix_ns = 0;
  std::uint64_t received_mono_ns = 0;
  source_id source = kUnknownSource;
  std::uint16_t http_status = 200;
  payload_error error = payload_error::none;
};

template <class Batch>
class batch_pool;

class payload_batch {
 public:
  /// Copies a body in and pads it. Returns the index of the new payload.
  std::size_t add(std::string_view body, source_id source, std::uint16_t http_status,
                  std::int64_t received_unix_ns, std::uint64_t received_mono_ns);
  /// Receiving in place (no copy): begin_body(), append_body() as bytes arrive, then
  /// finish_body() to pad and register it, or abort_body() to forget it.
  void begin_body() noexcept { open_body_ = arena_.size(); }
  void append_body(const char* data, std::size_t n) { arena_.append(data, n); }
  std::size_t open_body_size() const noexcept { return arena_.size() - open_body_; }
  std::size_t finish_body(source_id source, std::uint16_t http_status,
                          std::int64_t received_unix_ns, std::uint64_t received_mono_ns,
                          payload_error error = payload_error::none);
  void abort_body() noexcept { arena_.truncate(open_body_); }
  std::string_view open_body() const noexcept {
    return arena_.view(open_body_, arena_.size() - open_body_);
  }

  /// Zero-copy (stages/sources/replay_source): registers a body that lies at `offset` of the arena
  /// this batch will hold once it is given one with arena().swap() (a file reader's window). The
  /// `kPayloadPadding` bytes after the body must be readable there; their content does not
  /// matter (simdjson reads but never interprets them). Not mixed with add() in one batch.
  std::size_t add_in_place(std::size_t offset, std::size_t length, source_id source,
                           std::uint16_t http_status, std::int64_t received_unix_ns,
                           std::uint64_t received_mono_ns);
  byte_arena& arena() noexcept { return arena_; }

  std::string_view body(const payload& p) const noexcept {
    return arena_.view(p.body_offset, p.body_length);
  }
  const std::vector<payload>& payloads() const noexcept { return payloads_; }
  /// Body bytes (padding and anything else in the arena not counted).
  std::size_t bytes() const noexcept { return body_bytes_; }
  bool empty() const noexcept { return payloads_.empty(); }
  void clear() noexcept {
    arena_.clear();
    payloads_.clear();
    body_bytes_ = 0;
  }
  void trim(std::size_t keep_bytes) { arena_.shrink_to(keep_bytes); }
  /// Heap bytes the batch holds (its arena's and payload list's capacity).
  std::size_t memory_bytes() const noexcept {
    return arena_.capacity() + payloads_.capacity() * sizeof(payload);
  }

 private:
  /// Records a body at `offset` of the arena; returns its index.
  std::size_t register_body(std::size_t offset, std::size_t length, source_id source,
                            std::uint16_t http_status, std::int64_t received_unix_ns,
                            std::uint64_t received_mono_ns, payload_error error);

  byte_arena arena_;
  std::vector<payload> payloads_;
  std::size_t open_body_ = 0;
  std::size_t body_bytes_ = 0;
};

/// Told where a batch went in the spool (postgres_cdc confirms its LSNs from that). Called on
/// the spool thread right after the batch was appended: its records are ids [.., end_id).
class spool_append_observer {
 public:
  virtual ~spool_append_observer() = default;
  virtual void appended(std::uint64_t ticket, std::uint64_t end_id) noexcept = 0;
};

class record_batch {
 public:
  byte_arena& arena() noexcept { return arena_; }
  const byte_arena& arena() const noexcept { return arena_; }
  std::vector<record>& records() noexcept { return records_; }
  const std::vector<record>& records() const noexcept { return records_; }
  std::string_view key(const record& r) const noexcept {
    return arena_.view(r.key_offset, r.key_length);
  }
  std::string_view value(const record& r) const noexcept {
    return arena_.view(r.value_offset, r.value_length);
  }
  /// Writes a stream name into the arena; the value for record::stream.
  std::uint32_t add_stream(std::string_view name);
  /// The record's stream name; empty when it has none.
  std::string_view stream(const record& r) const noexcept;
  std::size_t bytes() const noexcept { return arena_.size(); }
  bool empty() const noexcept { return records_.empty(); }
  void clear() noexcept {
    arena_.clear();
    records_.clear();
    observer_ = nullptr;
    ticket_ = 0;
  }
  /// The producer asks to be told the batch's spool ids (see spool_append_observer).
  void observe_append(spool_append_observer* o, std::uint64_t ticket) noexcept {
    observer_ = o;
    ticket_ = ticket;
  }
  spool_append_observer* append_observer() const noexcept { return observer_; }
  std::uint64_t ticket() const noexcept { return ticket_; }
  void trim(std::size_t keep_bytes) { arena_.shrink_to(keep_bytes); }
  /// Heap bytes the batch holds (its arena's and record list's capacity).
  std::size_t memory_bytes() const noexcept {
    return arena_.capacity() + records_.capacity() * sizeof(record);
  }

  /// Fan-out: set once by the producer before pushing to `n` consumers.
  void set_readers(int n) noexcept { readers_.store(n, std::memory_order_relaxed); }
  /// One more reader of a batch someone already holds (the spool's memory tail hands it out).
  void add_reader() noexcept { readers_.fetch_add(1, std::memory_order_relaxed); }
  /// True for the last reader, which then owns the batch again.
  bool release_reader() noexcept { return readers_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

 private:
  byte_arena arena_;
  std::vector<record> records_;
  std::atomic<int> readers_{0};
  spool_append_observer* observer_ = nullptr;
  std::uint64_t ticket_ = 0;
};

}  // namespace edgepipe
