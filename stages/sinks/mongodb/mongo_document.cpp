#include "stages/sinks/mongodb/mongo_document.hpp"

#include <mongoc/mongoc.h>
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe {

namespace {
constexpr std::uint32_t kMaxDocumentBytes = 16u * 1024u * 1024u;  // MongoDB's BSON limit
}  // namespace

mongo_document_builder::mongo_document_builder(const std::vector<std::string>& source_names)
    : source_names_(source_names), doc_(bson_new()) {}

mongo_document_builder::~mongo_document_builder() { bson_destroy(doc_); }

const bson_t* mongo_document_builder::build(const record_batch& batch, std::uint32_t i,
                                            const bson_oid_t* oid, bson_t& tmp, bson_error_t& err,
                                            bool& checked) {
  const record& r = batch.records()[i];
  const std::string_view value = batch.value(r);
  checked = false;
  const std::string_view key = r.key_length != 0 ? batch.key(r) : std::string_view();
  bson_init(&tmp);  // left empty on the fast path; the caller destroys it either way
  if (r.key_length == 0 || bson_utf8_validate(key.data(), key.size(), false)) {
    bson_reinit(doc_);  // keeps doc_'s heap buffer: no allocation once warmed up
    append_id(doc_, r, key, oid);
    if (json_.append_object(value, doc_) == bson_from_json::result::ok &&
        doc_->len <= kMaxDocumentBytes) {
      checked = true;
      return doc_;
    }
  }
  // Anything else (Extended JSON, odd keys, bad text, a bad key): libbson, as before.
  if (!bson_init_from_json(&tmp, value.data(), static_cast<ssize_t>(value.size()), &err)) {
    bson_init(&tmp);
    return nullptr;
  }
  bson_reinit(doc_);
  if (r.key_length != 0 && !bson_utf8_validate(key.data(), key.size(), false)) {
    bson_set_error(&err, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
                   "record key is not valid UTF-8");
    return nullptr;
  }
  append_id(doc_, r, key, oid);
  if (bson_has_field(&tmp, "_id")) {
    bson_copy_to_excluding_noinit(&tmp, doc_, "_id", nullptr);
  } else {
    bson_concat(doc_, &tmp);
  }
  if (doc_->len > kMaxDocumentBytes) {
    bson_set_error(&err, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
                   "document too large: %u bytes, the limit is %u", doc_->len, kMaxDocumentBytes);
    return nullptr;
  }
  return doc_;
}

void mongo_document_builder::append_id(bson_t* out, const record& r, std::string_view key,
                                       const bson_oid_t* oid) const {
  if (r.key_length != 0) {
    bson_append_utf8(out, "_id", 3, key.data(), static_cast<int>(key.size()));
  } else if (oid != nullptr) {
    bson_append_oid(out, "_id", 3, oid);
  } else {
    const std::string_view source = r.source < source_names_.size()
                                        ? std::string_view(source_names_[r.source])
                                        : std::string_view("unknown");
    bson_t id;
    bson_append_document_begin(out, "_id", 3, &id);
    bson_append_utf8(&id, "source", 6, source.data(), static_cast<int>(source.size()));
    if (!origin_.empty())
      bson_append_utf8(&id, "spool", 5, origin_.data(), static_cast<int>(origin_.size()));
    bson_append_int64(&id, "record", 6, static_cast<std::int64_t>(r.sequence));
    bson_append_document_end(out, &id);
  }
}

}  // namespace edgepipe
