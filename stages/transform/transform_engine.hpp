// Runs compiled transforms over payloads with simdjson On-Demand: one parser per thread, bodies
// parsed in place (they carry padding), each record walked once along the pointer trie, output
// JSON written straight into the record batch's arena. Bad payloads and bad records go to the
// dead-letter batch with their reason and (truncated) bytes; good records of the same payload
// still flow. A payload that turns out not to be valid JSON is rolled back whole.
// Threading: one engine per transform thread; not thread-safe.
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "stages/transform/digest.hpp"
#include "stages/transform/transform_program.hpp"

namespace edgepipe {

struct transform_limits {
  std::size_t max_payload_bytes = std::size_t{16} << 20;
  std::size_t dead_letter_max_bytes = 4096;  // offending bytes kept per dead letter
};

/// What happened to one payload.
struct payload_outcome {
  std::uint32_t records = 0;
  std::uint32_t rejected_records = 0;
  std::uint32_t filtered = 0;
  bool payload_rejected = false;  // not JSON, wrong shape, unknown source...
  bool invalid_body = false;      // the body was not valid JSON or not the expected shape
  bool skipped_status = false;    // non-2xx HTTP status: not data, counted only
};

class transform_engine {
 public:
  /// programs[i] transforms payloads whose source id is i.
  transform_engine(std::vector<transform_program> programs, transform_limits limits);

  /// Transforms one payload. `body` must be followed by kPayloadPadding readable bytes.
  payload_outcome run(const payload& p, std::string_view body, record_batch& out,
                      record_batch& dead_letters, std::uint64_t& next_sequence);

  const std::vector<transform_program>& programs() const noexcept { return programs_; }
  /// The digests fetched at construction: only the kinds some field hashes with.
  const hasher& digests() const noexcept { return hasher_; }

 private:
  enum class record_verdict { ok, rejected, filtered };
  struct record_context;

  simdjson::error_code process_records(const transform_program& prog, simdjson::ondemand::value v,
                                       record_context& ctx);
  simdjson::error_code process_object(const transform_program& prog, simdjson::ondemand::object obj,
                                      record_context& ctx);
  simdjson::error_code walk(const transform_program& prog, simdjson::ondemand::object& obj,
                            std::size_t node);
  simdjson::error_code walk_again(const transform_program& prog, simdjson::ondemand::object& obj,
                                  std::size_t node, std::uint64_t unfound);
  /// Nodes with more children than the ordered walk tracks: one find_field_unordered each.
  simdjson::error_code walk_unordered(const transform_program& prog,
                                      simdjson::ondemand::object& obj, std::size_t node);
  simdjson::error_code take(const transform_program& prog, simdjson::ondemand::value& v,
                            const child_matcher& child);
  /// Fills slot `slot` from `v`: escape-free strings and numbers inline, the rest in
  /// extract_other().
  simdjson::error_code extract(simdjson::ondemand::value& v, int slot);
  simdjson::error_code extract_other(simdjson::ondemand::value& v, slot_value& s);
  record_verdict emit(const transform_program& prog, record_context& ctx);
  /// The common case of a field (see compiled_field::fast); false: take write_field().
  bool write_field_fast(const compiled_field& f, byte_arena& out);
  bool write_field(const compiled_field& f, byte_arena& out);
  bool string_form(const slot_value& v, std::string_view& out);
  bool passes(const compiled_filter& f) const;

  void dead_letter(record_batch& dlq, const payload& p, std::string_view source,
                   std::string_view reason, std::string_view bytes);

  static constexpr std::size_t kMaxOrderedChildren = 64;
  static constexpr std::size_t kScanAllChildren = 8;  // up to this many: any order is one pass

  std::vector<transform_program> programs_;
  // Per program, per node: its children (indexes into the node's matchers) in the order the last
  // record that broke the expected order had them. Only speed depends on it, never the output.
  std::vector<std::vector<std::uint8_t>> learned_order_;
  std::uint8_t* order_ = nullptr;  // learned_order_ of the program being run
  transform_limits limits_;
  simdjson::ondemand::parser parser_;
  hasher hasher_;
  std::array<slot_value, 256> slots_{};
  byte_arena scratch_;  // template rendering and number-to-string
  std::string reason_;  // reason of the last rejected record (cold path only)
};

}  // namespace edgepipe
