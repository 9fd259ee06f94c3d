// JSON text -> BSON for the MongoDB sink, without libbson's JSON reader. bson_init_from_json
// allocates and zeroes a ~50 KB reader per document (callgrind: ~62,000 instructions of the
// ~77,000 the sink spent per randomuser document), so this parses with simdjson (one reused DOM
// parser: no allocation once it has grown to the largest record) and appends the members to the
// caller's document.
//
// It only takes the plain-JSON subset on which it provably produces the same BSON as
// bson_init_from_json and which libmongoc's insert validation would accept; for anything else it
// returns `fallback` and the caller uses libbson as before (same results, same errors):
//  - the root is an object, nesting is at most kMaxDepth;
//  - no key is empty, starts with '$' (Extended JSON: {"$date": ...}, {"$oid": ...}), contains
//    '.', or contains a NUL byte;
//  - integers fit in int64 (int32 when in [-2^31, 2^31-1], as libbson does); uint64-only
//    integers, overflowing numbers, NaN/Infinity fall back;
//  - strings are valid UTF-8 (simdjson checks the whole text) and are appended unescaped, NUL
//    bytes included (libbson allows them in plain strings);
//  - duplicate keys are kept, in document order.
// Top-level "_id" members are skipped: the sink sets `_id` itself (the record key or an ObjectId).
// Threading: one instance per sink thread (the parser is not shared).
#pragma once

#include <bson/bson.h>
#include <simdjson.h>

#include <string_view>

namespace edgepipe {

class bson_from_json {
 public:
  static constexpr int kMaxDepth = 64;
  enum class result { ok, fallback };

  /// Appends the members of the JSON object `json` (minus top-level "_id") to `out`. On
  /// `fallback`, `out` may hold part of the members: the caller reinitialises it.
  result append_object(std::string_view json, bson_t* out);

 private:
  bool append_members(simdjson::dom::object obj, bson_t* out, int depth, bool top);
  bool append_value(const char* key, int key_len, simdjson::dom::element v, bson_t* out, int depth);

  simdjson::dom::parser parser_;
};

}  // namespace edgepipe
