#include "stages/sinks/mongodb/bson_from_json.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe {

namespace {

/// A key the fast path takes: what libmongoc's insert validation accepts (not empty, no '$'
/// start, no '.') and what libbson's reader treats as a plain member name (no '$', no NUL).
bool plain_key(std::string_view k) {
  if (k.empty() || k.front() == '$' || k.size() > static_cast<std::size_t>(INT32_MAX)) return false;
  return std::memchr(k.data(), '.', k.size()) == nullptr &&
         std::memchr(k.data(), '\0', k.size()) == nullptr;
}

}  // namespace

bson_from_json::result bson_from_json::append_object(std::string_view json, bson_t* out) {
  simdjson::dom::element root;
  // Copies the text into the parser's padded buffer (reused: no allocation once warmed up).
  if (parser_.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS)
    return result::fallback;
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return result::fallback;
  return append_members(obj, out, 1, true) ? result::ok : result::fallback;
}

bool bson_from_json::append_members(simdjson::dom::object obj, bson_t* out, int depth, bool top) {
  for (const auto field : obj) {
    const std::string_view k = field.key;
    if (!plain_key(k)) return false;
    if (top && k == "_id") continue;
    if (!append_value(k.data(), static_cast<int>(k.size()), field.value, out, depth)) return false;
  }
  return true;
}

bool bson_from_json::append_value(const char* key, int key_len, simdjson::dom::element v,
                                  bson_t* out, int depth) {
  switch (v.type()) {
    case simdjson::dom::element_type::OBJECT: {
      if (depth >= kMaxDepth) return false;
      bson_t child;
      if (!bson_append_document_begin(out, key, key_len, &child)) return false;
      simdjson::dom::object obj;
      const bool ok = v.get_object().get(obj) == simdjson::SUCCESS &&
                      append_members(obj, &child, depth + 1, false);
      return bson_append_document_end(out, &child) && ok;
    }
    case simdjson::dom::element_type::ARRAY: {
      if (depth >= kMaxDepth) return false;
      bson_t child;
      if (!bson_append_array_begin(out, key, key_len, &child)) return false;
      simdjson::dom::array arr;
      bool ok = v.get_array().get(arr) == simdjson::SUCCESS;
      std::uint32_t i = 0;
      for (const auto item : arr) {
        if (!ok) break;
        char buf[16];
        const char* index = nullptr;
        const auto n = bson_uint32_to_string(i++, &index, buf, sizeof buf);
        if (!append_value(index, static_cast<int>(n), item, &child, depth + 1)) {
          ok = false;
          break;
        }
      }
      return bson_append_array_end(out, &child) && ok;
    }
    case simdjson::dom::element_type::STRING: {
      const std::string_view s = v.get_string().value_unsafe();
      if (s.size() > static_cast<std::size_t>(INT32_MAX) - 1) return false;
      return bson_append_utf8(out, key, key_len, s.data(), static_cast<int>(s.size()));
    }
    case simdjson::dom::element_type::INT64: {
      // libbson: int32 when the value fits, else int64.
      const std::int64_t i = v.get_int64().value_unsafe();
      if (i >= std::numeric_limits<std::int32_t>::min() &&
          i <= std::numeric_limits<std::int32_t>::max())
        return bson_append_int32(out, key, key_len, static_cast<std::int32_t>(i));
      return bson_append_int64(out, key, key_len, i);
    }
    case simdjson::dom::element_type::DOUBLE:
      // Both simdjson and strtod (libbson) round correctly; overflow fails the parse above.
      return bson_append_double(out, key, key_len, v.get_double().value_unsafe());
    case simdjson::dom::element_type::BOOL:
      return bson_append_bool(out, key, key_len, v.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
      return bson_append_null(out, key, key_len);
    case simdjson::dom::element_type::UINT64:  // libbson: "out of range" error; let it say so
    default:
      return false;
  }
}

}  // namespace edgepipe
