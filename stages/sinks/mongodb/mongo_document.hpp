// Builds the BSON document a record becomes in MongoDB: `_id` first (the record's key, or a
// client-side ObjectId for keyless records so a retry cannot insert twice), then the record's
// JSON - by bson_from_json (simdjson, no allocation per document) when it can prove it builds
// what libbson would, else by bson_init_from_json.
// Threading: one builder per sink, used on the sink thread only.
#pragma once

#include <bson/bson.h>

#include <cstdint>

#include "core/batch.hpp"
#include "stages/sinks/mongodb/bson_from_json.hpp"

namespace edgepipe {

class mongo_document_builder {
 public:
  mongo_document_builder();
  ~mongo_document_builder();
  mongo_document_builder(const mongo_document_builder&) = delete;
  mongo_document_builder& operator=(const mongo_document_builder&) = delete;

  /// Record `i`'s document, valid until the next call; nullptr with `err` set when the record
  /// cannot become one. `tmp` is the caller's scratch (destroy it after use either way).
  /// `checked`: libmongoc's insert validation would accept it, so the bulk need not walk it.
  const bson_t* build(const record_batch& batch, std::uint32_t i, const bson_oid_t& oid,
                      bson_t& tmp, bson_error_t& err, bool& checked);

 private:
  void append_id(const record& r, std::string_view key, const bson_oid_t& oid);

  bson_from_json json_;
  bson_t* doc_;  // reused per record (bson_reinit keeps its buffer)
};

}  // namespace edgepipe
