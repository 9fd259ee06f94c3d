// The connection half of the MongoDB sink: the client made from the URI (timeouts fit for an
// edge node), the ping, the write concern and bulk options, index creation. No records here.
// Threading: open() runs on the main thread before the pipeline starts; after that only the
// sink thread uses the connection (a mongoc_client_t is not thread-safe, so it is never shared).
#pragma once

#include <mongoc/mongoc.h>

#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "core/status.hpp"

namespace edgepipe {

class mongo_connection {
 public:
  mongo_connection(std::string sink_name, const mongo_sink_config& config,
                   const std::vector<std::string>& source_names);
  ~mongo_connection();
  mongo_connection(const mongo_connection&) = delete;
  mongo_connection& operator=(const mongo_connection&) = delete;

  /// Creates the client and the bulk options; does not talk to the server.
  status open();
  /// One round trip: does the server answer?
  status ping();
  /// The configured indexes, on the one configured collection or on every source's.
  status create_all_indexes();

  mongoc_client_t* client() const noexcept { return client_; }
  const std::string& redacted_uri() const noexcept { return redacted_uri_; }
  /// w=0: the server sends no reply to check.
  bool unacknowledged() const noexcept { return unacknowledged_; }
  const bson_t* bulk_opts() const noexcept { return &bulk_opts_; }
  const bson_t* upsert_opts() const noexcept { return &upsert_opts_; }
  /// {validate: false}: for documents bson_from_json already checked.
  const bson_t* no_validate_opts() const noexcept { return &no_validate_opts_; }

 private:
  status create_indexes(const std::string& collection);

  std::string sink_name_;
  const mongo_sink_config& config_;
  const std::vector<std::string>& source_names_;
  std::string redacted_uri_;
  mongoc_client_t* client_ = nullptr;
  mongoc_write_concern_t* write_concern_ = nullptr;
  bool unacknowledged_ = false;
  bson_t bulk_opts_;
  bson_t upsert_opts_;
  bson_t no_validate_opts_;
};

}  // namespace edgepipe
