// The origin of a MongoDB sink's derived `_id`s (mongo_document): a random id made when the
// sink first runs on a spool and kept in its spool ledger (`mongo.spool=<16 hex digits>`), so
// keyless records of a spool that was deleted and made again (record ids start at 0 again) do
// not take the `_id`s of the old spool's documents and get skipped as duplicates. A lost ledger
// only gives new `_id`s (possible duplicates, never a loss). Pure text functions.
// Threading: any thread.
#pragma once

#include <string>
#include <string_view>

namespace edgepipe {

/// A new origin: 16 lowercase hex digits from std::random_device.
std::string new_mongo_origin();
/// The origin a ledger's sink state carries; empty when none (or malformed).
std::string_view parse_mongo_origin(std::string_view ledger_state);
/// The ledger line for `origin`: "mongo.spool=<origin>\n".
std::string mongo_origin_line(std::string_view origin);

}  // namespace edgepipe
