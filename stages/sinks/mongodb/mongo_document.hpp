// Builds the BSON document a record becomes in MongoDB: `_id` first, then the record's JSON.
// `_id` is derived from the record, so a record sent again (a retry, or a resend from the spool
// after a crash) has the same `_id` and cannot be stored twice: the record's key when it has
// one; for a keyless record fed from the spool {source: <source name>, spool: <the spool's
// origin>, record: <spool record id>} (ids are never reused within a spool, and the origin, a
// random id the sink keeps in its ledger, tells spools apart: a deleted and re-created spool
// starts ids at 0 again), stable across restarts and resends; for a keyless
// record without a spool (no stable id exists) a client-side ObjectId the caller makes once per
// batch, so only the retries within that write are covered. Then the record's
// JSON - by bson_from_json (simdjson, no allocation per document) when it can prove it builds
// what libbson would, else by bson_init_from_json.
// Threading: one builder per sink, used on the sink thread only.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.hpp"
#include "stages/sinks/mongodb/bson_from_json.hpp"

namespace edgepipe {

class mongo_document_builder {
 public:
  /// `source_names`: by source id, for derived `_id`s; must outlive the builder.
  explicit mongo_document_builder(const std::vector<std::string>& source_names);
  ~mongo_document_builder();
  mongo_document_builder(const mongo_document_builder&) = delete;
  mongo_document_builder& operator=(const mongo_document_builder&) = delete;

  /// Record `i`'s document, valid until the next call; nullptr with `err` set when the record
  /// cannot become one. `tmp` is the caller's scratch (destroy it after use either way).
  /// `checked`: libmongoc's insert validation would accept it, so the bulk need not walk it.
  /// `oid`: the `_id` of a keyless record; nullptr derives it from the source and the record id.
  const bson_t* build(const record_batch& batch, std::uint32_t i, const bson_oid_t* oid,
                      bson_t& tmp, bson_error_t& err, bool& checked);
  /// The spool's origin for derived `_id`s (empty: left out).
  void set_origin(std::string_view origin) { origin_.assign(origin); }
  /// Appends the record's `_id` (as build() makes it) to `out`, e.g. an upsert's selector.
  void append_id(bson_t* out, const record& r, std::string_view key, const bson_oid_t* oid) const;

 private:
  const std::vector<std::string>& source_names_;
  std::string origin_;

  bson_from_json json_;
  bson_t* doc_;  // reused per record (bson_reinit keeps its buffer)
};

}  // namespace edgepipe
