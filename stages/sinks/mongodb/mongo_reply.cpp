#include "stages/sinks/mongodb/mongo_reply.hpp"

#include <mongoc/mongoc.h>

#include <cstring>
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe::mongo_reply {

bool retryable_code(std::int64_t code) {
  switch (code) {
    case 6:      // HostUnreachable
    case 7:      // HostNotFound
    case 64:     // WriteConcernFailed (wtimeout)
    case 89:     // NetworkTimeout
    case 91:     // ShutdownInProgress
    case 100:    // UnsatisfiableWriteConcern (transiently, during elections)
    case 112:    // WriteConflict
    case 189:    // PrimarySteppedDown
    case 262:    // ExceededTimeLimit
    case 9001:   // SocketException
    case 10107:  // NotWritablePrimary
    case 11600:  // InterruptedAtShutdown
    case 11602:  // InterruptedDueToReplStateChange
    case 13435:  // NotPrimaryNoSecondaryOk
    case 13436:  // NotPrimaryOrSecondary
      return true;
    default:
      return false;
  }
}

bool has_retryable_label(const bson_t* reply) {
  bson_iter_t it, labels;
  if (!bson_iter_init_find(&it, reply, "errorLabels") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &labels))
    return false;
  while (bson_iter_next(&labels)) {
    if (!BSON_ITER_HOLDS_UTF8(&labels)) continue;
    const char* l = bson_iter_utf8(&labels, nullptr);
    if (std::strcmp(l, "RetryableWriteError") == 0 ||
        std::strcmp(l, "TransientTransactionError") == 0 || std::strcmp(l, "NetworkError") == 0)
      return true;
  }
  return false;
}

std::int64_t int_field(const bson_t* reply, const char* field) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply, field) && BSON_ITER_HOLDS_NUMBER(&it))
    return bson_iter_as_int64(&it);
  return 0;
}

bool read_write_errors(const bson_t* reply, std::size_t operations, std::vector<write_error>& out) {
  out.clear();
  bson_iter_t it, errs;
  if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &errs))
    return false;
  while (bson_iter_next(&errs)) {
    bson_iter_t e;
    if (!BSON_ITER_HOLDS_DOCUMENT(&errs) || !bson_iter_recurse(&errs, &e)) continue;
    std::int64_t index = -1;
    write_error w;
    while (bson_iter_next(&e)) {
      const char* k = bson_iter_key(&e);
      if (std::strcmp(k, "index") == 0) index = bson_iter_as_int64(&e);
      if (std::strcmp(k, "code") == 0) w.code = bson_iter_as_int64(&e);
      if (std::strcmp(k, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&e))
        w.message = bson_iter_utf8(&e, nullptr);
    }
    if (index < 0 || static_cast<std::size_t>(index) >= operations) continue;
    w.index = static_cast<std::size_t>(index);
    out.push_back(w);
  }
  return !out.empty();
}

bool has_write_concern_error(const bson_t* reply) {
  bson_iter_t it, a;
  return bson_iter_init_find(&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
         bson_iter_recurse(&it, &a) && bson_iter_next(&a);
}

bool transient_failure(const bson_t* reply, const bson_error_t& err, bool write_concern_error) {
  return write_concern_error || err.domain == MONGOC_ERROR_STREAM ||
         err.domain == MONGOC_ERROR_SERVER_SELECTION || err.domain == MONGOC_ERROR_WRITE_CONCERN ||
         has_retryable_label(reply) || retryable_code(static_cast<std::int64_t>(err.code));
}

std::int64_t confirmed_documents(const bson_t* reply) {
  return int_field(reply, "nInserted") + int_field(reply, "nUpserted") +
         int_field(reply, "nMatched");
}

}  // namespace edgepipe::mongo_reply
