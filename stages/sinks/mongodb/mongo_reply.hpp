// Reading a MongoDB bulk write's reply: which documents failed and why, whether a failure is
// worth retrying, how many documents the server confirmed. Pure functions over libbson, no
// I/O, so they are unit-testable with hand-built replies. Threading: any thread.
#pragma once

#include <bson/bson.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgepipe::mongo_reply {

constexpr std::int32_t kDuplicateKey = 11000;

/// Server codes worth retrying (MongoDB's retryable-writes list plus write concern failures).
bool retryable_code(std::int64_t code);
/// The reply carries a RetryableWriteError, TransientTransactionError or NetworkError label.
bool has_retryable_label(const bson_t* reply);
/// An integer field of the reply, 0 when absent.
std::int64_t int_field(const bson_t* reply, const char* field);

struct write_error {
  std::size_t index = 0;     // operation index within the bulk
  std::int64_t code = 0;     // server error code
  const char* message = "";  // points into the reply: valid while the reply lives
};

/// The reply's writeErrors whose index is below `operations`, into `out` (cleared first).
/// False when there are none.
bool read_write_errors(const bson_t* reply, std::size_t operations, std::vector<write_error>& out);
/// The reply has a non-empty writeConcernErrors array.
bool has_write_concern_error(const bson_t* reply);
/// A failure of the whole bulk worth retrying: network, server selection, write concern,
/// a retryable label or code.
bool transient_failure(const bson_t* reply, const bson_error_t& err, bool write_concern_error);
/// Documents the server confirmed: nInserted + nUpserted + nMatched.
std::int64_t confirmed_documents(const bson_t* reply);

}  // namespace edgepipe::mongo_reply
